namespace VmConsole.Server.Api;

public sealed record ExportVmRequest(string? Path);
