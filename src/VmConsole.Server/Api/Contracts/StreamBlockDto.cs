namespace VmConsole.Server.Api;

public sealed record StreamBlockDto(string IdStr, long UsedLength);
