namespace VmConsole.Server.Api;

public sealed record WorkloadDto(string Kind, long PagesPerSecond, long WorkingSetBytes, int ThrottlePercent);
