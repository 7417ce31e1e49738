using VmConsole.Migration.Engine;

namespace VmConsole.Server.Components.Shared;

/// <summary>
/// One point of a migration's charts, in bytes and bytes per second. <see cref="DirtyBytesPerSecond"/> is the live dirty
/// rate (the guest's, measured all along) when known, else QEMU's per-sync <c>dirty-pages-rate</c>.
/// </summary>
public sealed record MigrationPoint(double Seconds, double RemainingBytes, double TransferredBytes, double DirtyBytesPerSecond, double ThroughputBytesPerSecond)
{
    /// <summary>
    /// False for a point taken before the migration knew its RAM (QEMU in <c>setup</c> says nothing sent and nothing
    /// remaining): charted, it would draw remaining rising from 0 at the start.
    /// </summary>
    public bool Known => RemainingBytes > 0 || TransferredBytes > 0;

    /// <param name="livePagesPerSecond">The guest's live dirty rate now (<see cref="Domain.LiveDirtyRate"/>), null when not measured.</param>
    public static MigrationPoint From(MigrationStats stats, double? livePagesPerSecond) => new(
        stats.TotalTime / 1000.0,
        stats.Remaining,
        stats.Transferred,
        (livePagesPerSecond ?? stats.DirtyPagesRate) * stats.PageSize,
        stats.Mbps * 1e6 / 8);

    /// <summary>A recorded sample, <paramref name="started"/> being the migration's start (samples keep no page size: QEMU's 4 KiB).</summary>
    public static MigrationPoint From(VmConsole.Persistence.Records.ProgressSampleRecord sample, DateTimeOffset started) => new(
        Math.Max(0, (sample.At - started).TotalSeconds),
        sample.Remaining,
        sample.Transferred,
        (sample.LiveDirtyPagesRate ?? sample.DirtyPagesRate) * 4096,
        sample.Mbps * 1e6 / 8);
}
