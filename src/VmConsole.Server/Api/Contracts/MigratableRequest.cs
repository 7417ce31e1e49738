namespace VmConsole.Server.Api;

public sealed record MigratableRequest(bool? Migratable);
