using VmConsole.Emulation;

namespace VmConsole.Migration.Engine;

/// <summary>QEMU's migration parameters with QEMU's defaults (DESIGN.md section 4).</summary>
public sealed record MigrationParameters
{
    /// <summary>Bytes per second; 0 means unlimited, as a disabled rate limit in QEMU.</summary>
    public long MaxBandwidth { get; init; } = 128 * Sizes.MiB;

    /// <summary>Milliseconds the guest may be stopped at switchover.</summary>
    public long DowntimeLimit { get; init; } = 300;

    public int CpuThrottleInitial { get; init; } = 20;

    public int CpuThrottleIncrement { get; init; } = 10;

    public int MaxCpuThrottle { get; init; } = 99;

    /// <summary>Percent: throttle when a pass dirtied more than this share of what it sent.</summary>
    public int ThrottleTriggerThreshold { get; init; } = 50;

    public int MultifdChannels { get; init; } = 2;

    /// <summary>Bytes: a power of two, at least one target page (QEMU sizes the cache in pages, rounded down to a power of two).</summary>
    public long XbzrleCacheSize { get; init; } = 64 * Sizes.MiB;

    /// <summary>How multifd packets carry their pages: raw, or through one zlib or zstd stream per channel.</summary>
    public Wire.MultifdCompression MultifdCompression { get; init; } = Wire.MultifdCompression.None;

    /// <summary>QEMU's <c>multifd-zlib-level</c>, 0 to 9.</summary>
    public int MultifdZlibLevel { get; init; } = 1;

    /// <summary>QEMU's <c>multifd-zstd-level</c>, 0 to 20.</summary>
    public int MultifdZstdLevel { get; init; } = 1;

    public static MigrationParameters Default { get; } = new();

    /// <summary>Checks every value against QEMU's ranges; each problem is its own invalid-parameter error.</summary>
    public void Validate()
    {
        Check(MaxBandwidth is >= 0 and <= 1L << 50, "maxBandwidth", $"must be between 0 (unlimited) and 1 PiB/s; got {MaxBandwidth}");
        Check(DowntimeLimit is >= 1 and <= 2_000_000, "downtimeLimit", $"must be between 1 and 2,000,000 ms; got {DowntimeLimit}");
        Check(CpuThrottleInitial is >= 1 and <= 99, "cpuThrottleInitial", $"must be between 1 and 99; got {CpuThrottleInitial}");
        Check(CpuThrottleIncrement is >= 1 and <= 99, "cpuThrottleIncrement", $"must be between 1 and 99; got {CpuThrottleIncrement}");
        Check(MaxCpuThrottle is >= 1 and <= 99, "maxCpuThrottle", $"must be between 1 and 99; got {MaxCpuThrottle}");
        Check(MaxCpuThrottle >= CpuThrottleInitial, "maxCpuThrottle", $"must not be below cpuThrottleInitial ({CpuThrottleInitial}); got {MaxCpuThrottle}");
        Check(ThrottleTriggerThreshold is >= 1 and <= 100, "throttleTriggerThreshold", $"must be between 1 and 100; got {ThrottleTriggerThreshold}");
        Check(MultifdChannels is >= 1 and <= 255, "multifdChannels", $"must be between 1 and 255; got {MultifdChannels}");
        Check(
            XbzrleCacheSize >= Wire.QemuFormat.TargetPageSize && XbzrleCacheSize <= 1L << 40 && long.IsPow2(XbzrleCacheSize),
            "xbzrleCacheSize",
            $"expects a power of two no less than the target page size ({Wire.QemuFormat.TargetPageSize} bytes) and at most 1 TiB; got {XbzrleCacheSize}");
        Check(Enum.IsDefined(MultifdCompression), "multifdCompression", $"must be none, zlib or zstd; got {(int)MultifdCompression}");
        Check(MultifdZlibLevel is >= 0 and <= 9, "multifdZlibLevel", $"must be between 0 and 9; got {MultifdZlibLevel}");
        Check(MultifdZstdLevel is >= 0 and <= 20, "multifdZstdLevel", $"must be between 0 and 20; got {MultifdZstdLevel}");
    }

    private static void Check(bool ok, string name, string problem)
    {
        if (!ok)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidParameter, $"Migration parameter '{name}' {problem}.", field: name);
        }
    }
}
