namespace VmConsole.Server.Api;

public sealed record PowerRequest(string? Action);
