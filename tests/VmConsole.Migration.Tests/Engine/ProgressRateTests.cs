using System.Collections.Concurrent;
using System.Diagnostics;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using MigrationJob = VmConsole.Migration.Engine.Migration;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>The progress stream the UI and hub follow: at most ten reports a second, and the last one carries the final numbers.</summary>
[Collection(TimingCollection.Name)]
public sealed class ProgressRateTests
{
    [Fact]
    public async Task Progress_FlushingHundredsOfTimesASecond_ReportsAtMostTenASecondAndTheLastIsFinal()
    {
        await using var fixture = new EngineFixture();

        // 128 MiB of non-zero pages on a paused guest: two seconds at 64 MiB/s, whatever the machine's load, with the
        // sender flushing every 256 KiB (about 256 times a second) and asking to report each time.
        var vm = fixture.CreateVm("vm1", 128);
        vm.Pause();
        var page = new byte[4096];
        for (long offset = 0; offset < vm.MainRam.UsedLength; offset += page.Length)
        {
            Random.Shared.NextBytes(page);
            vm.MainRam.Write(offset, page);
        }

        var clock = Stopwatch.StartNew();
        var reports = new ConcurrentQueue<(double At, MigrationStatus Status)>();
        var migration = fixture.Engine.Start(new MigrationRequest("vm1")
        {
            DestinationHost = "host-b",
            Parameters = MigrationParameters.Default with { MaxBandwidth = 64L << 20 },
        });
        migration.Progress += m => reports.Enqueue((clock.Elapsed.TotalMilliseconds, m.Status));
        await Task.Delay(1_500);
        migration.Cancel();

        Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(10)));
        await Task.Delay(300);

        var at = reports.Select(r => r.At).ToList();
        var gaps = at.Zip(at.Skip(1), (a, b) => b - a).ToList();

        // 100 ms apart at the least (95 leaves room for timer granularity, never for an eleventh report in a second),
        // and still close to ten a second: the limit coalesces, it does not starve.
        Assert.True(gaps.Min() >= 95, $"two reports {gaps.Min():0.#} ms apart");
        Assert.InRange(at.Count, 10, 20);
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
        var clock = new ManualClock();
        var migration = new MigrationJob("mig-final", vm, null, "file:/dev/null", MigrationParameters.Default, MigrationCapabilities.Default, 16 * Sizes.MiB, clock);
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

    /// <summary>Time that moves only when the test says so (no timers are needed: every report here is 100 ms or more after the last).</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks = 1;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
