namespace VmConsole.Persistence.Records;

/// <summary>One point of a migration's progress, for the charts.</summary>
public sealed class ProgressSampleRecord
{
    public long Id { get; set; }

    public required string MigrationId { get; set; }

    public DateTimeOffset At { get; set; }

    public long Transferred { get; set; }

    public long Remaining { get; set; }

    /// <summary>QEMU's dirty-pages-rate: known per dirty sync, 0 during the first pass.</summary>
    public double DirtyPagesRate { get; set; }

    /// <summary>The guest's dirty rate when the sample was taken (pages per second, measured all along); null when not measured.</summary>
    public double? LiveDirtyPagesRate { get; set; }

    public double Mbps { get; set; }

    public long DirtySyncCount { get; set; }

    public long? ExpectedDowntime { get; set; }

    public int CpuThrottlePercentage { get; set; }
}
