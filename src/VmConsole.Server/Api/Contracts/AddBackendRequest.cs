namespace VmConsole.Server.Api;

public sealed record AddBackendRequest(string? BackendId, long? SizeBytes);
