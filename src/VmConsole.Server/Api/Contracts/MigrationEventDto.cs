namespace VmConsole.Server.Api;

public sealed record MigrationEventDto(string Status, DateTimeOffset At);
