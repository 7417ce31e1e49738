namespace VmConsole.Server.Api;

public sealed record WorkloadRequest(string? Kind, long? PagesPerSecond, long? WorkingSetMiB);
