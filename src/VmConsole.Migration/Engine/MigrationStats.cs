using VmConsole.Emulation;

namespace VmConsole.Migration.Engine;

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

    /// <summary>With the xbzrle capability: the cache's figures; null without it.</summary>
    public XbzrleCacheStats? XbzrleCache { get; init; }
}
