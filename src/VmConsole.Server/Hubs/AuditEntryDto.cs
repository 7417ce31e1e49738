namespace VmConsole.Server.Hubs;

/// <summary>One audit log line, as the hub and the audit API show it.</summary>
public sealed record AuditEntryDto(DateTimeOffset At, string User, string Action, string Target, string? Vm, bool Allowed, string? Code, string? Reason, int Count = 1);
