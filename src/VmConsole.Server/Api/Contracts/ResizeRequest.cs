namespace VmConsole.Server.Api;

public sealed record ResizeRequest(long? UsedLength);
