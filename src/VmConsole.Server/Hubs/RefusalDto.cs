namespace VmConsole.Server.Hubs;

/// <summary>A refused action, as the hub tells it: what, on which VM and block, and why (with the migration for a freeze).</summary>
public sealed record RefusalDto(string Code, string Message, string? Vm, string? Operation, string? Block, string? MigrationId, string? MigrationStatus, DateTimeOffset At);
