using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>The progress stream the UI and hub follow: at most ten reports a second, and the last one carries the final numbers.</summary>
public sealed class ProgressRateTests
{
    /// <summary>
    /// A sender flushing every 4 ms (about 256 times a second, as at 64 MiB/s with 256 KiB flushes) asks to report each
    /// time, for 1.5 s of a fake clock; then the migration ends and reports once more.
    /// </summary>
    [Fact]
    public void Progress_FlushingHundredsOfTimesASecond_ReportsAtMostTenASecondAndTheLastIsFinal()
    {
        using var emulator = new Emulator();
        emulator.AddHost("host-a", Sizes.GiB);
        var vm = emulator.CreateVm(new VmDefinition("vm1", "host-a", "microvm", 16 * Sizes.MiB));
        var clock = new FakeTimeProvider();
        var migration = new PrecopyMigration("mig-rate", vm, "host-b", null, MigrationParameters.Default, MigrationCapabilities.Default, 16 * Sizes.MiB, clock);
        var started = clock.GetTimestamp();
        var reports = new ConcurrentQueue<(double At, MigrationStatus Status)>();
        migration.Progress += m => reports.Enqueue((clock.GetElapsedTime(started).TotalMilliseconds, m.Status));
        Assert.True(migration.TrySetStatus(MigrationStatus.Setup, MigrationStatus.Active));

        for (var flush = 0; flush < 375; flush++)
        {
            migration.ReportProgress();
            clock.Advance(TimeSpan.FromMilliseconds(4));
        }

        // The report due at 1,500 ms comes from a timer, on a pool thread: wait for it before the migration ends.
        Eventually.Wait(() => reports.Count >= 16, TimeSpan.FromSeconds(10), () => $"{reports.Count} reports");
        Assert.Equal(16, reports.Count);
        Assert.True(migration.TrySetStatus(MigrationStatus.Active, MigrationStatus.Cancelling));
        Assert.True(migration.TrySetStatus(MigrationStatus.Cancelling, MigrationStatus.Cancelled));
        migration.ReportProgress();
        clock.Advance(TimeSpan.FromMilliseconds(100));
        Eventually.Wait(() => reports.Count >= 17, TimeSpan.FromSeconds(10), () => $"{reports.Count} reports");

        var at = reports.Select(r => r.At).ToList();
        var gaps = at.Zip(at.Skip(1), (a, b) => b - a).ToList();

        // 100 ms apart at the least, and still ten a second: the limit coalesces, it does not starve. One every 100 ms
        // through the flushes (the one due at 1,500 ms for the last flushes), and the final one 100 ms after that.
        Assert.True(gaps.Min() >= 100, $"two reports {gaps.Min():0.#} ms apart");
        Assert.Equal(Enumerable.Range(0, 17).Select(i => i * 100.0), at);
        Assert.Equal(MigrationStatus.Cancelled, reports.Last().Status);
    }

    /// <summary>
    /// The worker reports once more after the final status, and a sender thread that is still unwinding (or a trailing
    /// timer) may ask again later: the numbers cannot change after the end, so clients get the final report once.
    /// </summary>
    [Fact]
    public void Progress_ReportedAgainAfterTheFinalReport_RaisesNothingMore()
    {
        using var emulator = new Emulator();
        emulator.AddHost("host-a", Sizes.GiB);
        var vm = emulator.CreateVm(new VmDefinition("vm1", "host-a", "microvm", 16 * Sizes.MiB));
        var clock = new FakeTimeProvider();
        var migration = new PrecopyMigration("mig-final", vm, null, "file:/dev/null", MigrationParameters.Default, MigrationCapabilities.Default, 16 * Sizes.MiB, clock);
        var reports = new List<(MigrationStatus Status, long TotalTime)>();
        migration.Progress += m => reports.Add((m.Status, m.GetStats().TotalTime));

        migration.ReportProgress();
        clock.Advance(TimeSpan.FromMilliseconds(150));
        Assert.True(migration.TrySetStatus(MigrationStatus.Setup, MigrationStatus.Cancelling));
        Assert.True(migration.TrySetStatus(MigrationStatus.Cancelling, MigrationStatus.Cancelled));
        migration.ReportProgress();
        clock.Advance(TimeSpan.FromMilliseconds(150));
        migration.ReportProgress();
        clock.Advance(TimeSpan.FromSeconds(5));
        migration.ReportProgress();

        Assert.Equal([(MigrationStatus.Setup, 0L), (MigrationStatus.Cancelled, 150L)], reports);
    }
}
