namespace VmConsole.Server.Api;

public sealed record IncomingMigrationRequest(string? Name, string? Host, string? Uri);
