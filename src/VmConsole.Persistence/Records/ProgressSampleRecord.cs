namespace VmConsole.Persistence.Records;

/// <summary>One point of a migration's progress, for the charts.</summary>
public sealed class ProgressSampleRecord
{
    public long Id { get; set; }

    public required string MigrationId { get; set; }

    public DateTimeOffset At { get; set; }

    public long Transferred { get; set; }

    public long Remaining { get; set; }

    public double DirtyPagesRate { get; set; }

    public double Mbps { get; set; }

    public long DirtySyncCount { get; set; }

    public long? ExpectedDowntime { get; set; }

    public int CpuThrottlePercentage { get; set; }
}
