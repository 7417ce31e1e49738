namespace VmConsole.Server.Api;

/// <summary>
/// QEMU's migration parameters (<c>migrate-set-parameters</c>) in camelCase; each left out keeps QEMU's default.
/// <c>multifdCompression</c> is <c>none</c>, <c>zlib</c> or <c>zstd</c>; <c>xbzrleCacheSize</c> is in bytes, a power of two.
/// </summary>
public sealed record MigrationParametersRequest(
    long? MaxBandwidth, long? DowntimeLimit, int? CpuThrottleInitial, int? CpuThrottleIncrement, int? MaxCpuThrottle,
    int? ThrottleTriggerThreshold, int? MultifdChannels, long? XbzrleCacheSize,
    string? MultifdCompression = null, int? MultifdZlibLevel = null, int? MultifdZstdLevel = null);
