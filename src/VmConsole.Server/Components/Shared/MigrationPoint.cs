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

    public static MigrationPoint From(Api.MigrationDto migration) => new(
        migration.TotalTime / 1000.0,
        migration.Ram.Remaining / MiB,
        migration.Ram.Transferred / MiB,
        migration.Ram.DirtyPagesRate * migration.Ram.PageSize / MiB,
        migration.Ram.Mbps * 1e6 / 8 / MiB);
}
