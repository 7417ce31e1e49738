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

    public long XbzrleCacheSize { get; init; } = 64 * Sizes.MiB;

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
        Check(XbzrleCacheSize is >= 0 and <= 1L << 40, "xbzrleCacheSize", $"must be between 0 and 1 TiB; got {XbzrleCacheSize}");
    }

    private static void Check(bool ok, string name, string problem)
    {
        if (!ok)
        {
            throw DomainException.Invalid("invalid-parameter", $"Migration parameter '{name}' {problem}.", field: name);
        }
    }
}

/// <summary>QEMU's migration capabilities (migrate-set-capabilities).</summary>
public sealed record MigrationCapabilities
{
    public bool AutoConverge { get; init; }

    public bool PostcopyRam { get; init; }

    public bool PauseBeforeSwitchover { get; init; }

    public bool Multifd { get; init; }

    public bool Xbzrle { get; init; }

    public bool Events { get; init; } = true;

    public static MigrationCapabilities Default { get; } = new();

    /// <summary>Refuses what this engine does not do, rather than silently ignoring it.</summary>
    public void Validate()
    {
        if (PostcopyRam)
        {
            throw DomainException.Invalid("unsupported-capability", field: "postcopyRam", message: "Capability 'postcopyRam' is not supported: VmConsole migrates with precopy only.");
        }

        if (Xbzrle)
        {
            throw DomainException.Invalid("unsupported-capability", field: "xbzrle", message: "Capability 'xbzrle' is not supported: pages are sent whole (zero pages as one byte).");
        }

        if (Multifd)
        {
            throw DomainException.Invalid("unsupported-capability", field: "multifd", message: "Capability 'multifd' is not supported: one channel carries the stream.");
        }
    }
}

/// <summary>One successful state change, as the event log records it.</summary>
public readonly record struct MigrationEvent(MigrationStatus Status, DateTimeOffset At);

/// <summary>
/// query-migrate's numbers at one moment (DESIGN.md section 4). Times in milliseconds, sizes in bytes,
/// rates per second; <see cref="Mbps"/> in megabits per second as QEMU reports it.
/// </summary>
public sealed record MigrationStats
{
    public required MigrationStatus Status { get; init; }

    public long TotalTime { get; init; }

    public long? SetupTime { get; init; }

    public long? ExpectedDowntime { get; init; }

    public long? Downtime { get; init; }

    public long Transferred { get; init; }

    public long Remaining { get; init; }

    public long Total { get; init; }

    /// <summary>Zero pages sent as one-byte records.</summary>
    public long Duplicate { get; init; }

    public long Normal { get; init; }

    public long NormalBytes { get; init; }

    public double DirtyPagesRate { get; init; }

    public double Mbps { get; init; }

    public long DirtySyncCount { get; init; }

    public long PageSize { get; init; } = Wire.QemuFormat.TargetPageSize;

    public double PagesPerSecond { get; init; }

    public long PrecopyBytes { get; init; }

    public long DowntimeBytes { get; init; }

    public int CpuThrottlePercentage { get; init; }

    public string? ErrorDesc { get; init; }
}

/// <summary>
/// One RAM block's share of a migration, as the stream's setup announced it. <see cref="SentBytes"/> is pages put on
/// the wire times the 4 KiB target page size, whatever their record cost (a zero page's few bytes count as a page), and
/// counts a page again each time a later pass resends it, so it reaches at least <see cref="UsedLength"/> once the
/// block has gone through. <see cref="RemainingBytes"/> is the block's dirty pages still to send, times the page size.
/// </summary>
public sealed record BlockProgress(string IdStr, long UsedLength, long SentBytes, long RemainingBytes);
