using VmConsole.Migration.Engine;

namespace VmConsole.Server.Components.Shared;

/// <summary>One point of a migration's charts.</summary>
public sealed record MigrationPoint(double Seconds, double RemainingMiB, double TransferredMiB, double DirtyMiBPerSecond, double ThroughputMiBPerSecond)
{
    private const double MiB = 1024 * 1024;

    public static MigrationPoint From(MigrationStats stats) => new(
        stats.TotalTime / 1000.0,
        stats.Remaining / MiB,
        stats.Transferred / MiB,
        stats.DirtyPagesRate * stats.PageSize / MiB,
        stats.Mbps * 1e6 / 8 / MiB);

    /// <summary>A recorded sample, <paramref name="started"/> being the migration's start (samples keep no page size: QEMU's 4 KiB).</summary>
    public static MigrationPoint From(VmConsole.Persistence.Records.ProgressSampleRecord sample, DateTimeOffset started) => new(
        (sample.At - started).TotalSeconds,
        sample.Remaining / MiB,
        sample.Transferred / MiB,
        sample.DirtyPagesRate * 4096 / MiB,
        sample.Mbps * 1e6 / 8 / MiB);
}
