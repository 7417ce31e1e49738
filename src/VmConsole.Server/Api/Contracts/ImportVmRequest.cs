namespace VmConsole.Server.Api;

public sealed record ImportVmRequest(string? Name, string? Host, string? Path);
