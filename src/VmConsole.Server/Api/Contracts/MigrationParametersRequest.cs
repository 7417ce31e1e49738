namespace VmConsole.Server.Api;

public sealed record MigrationParametersRequest(
    long? MaxBandwidth, long? DowntimeLimit, int? CpuThrottleInitial, int? CpuThrottleIncrement, int? MaxCpuThrottle,
    int? ThrottleTriggerThreshold, int? MultifdChannels, long? XbzrleCacheSize);
