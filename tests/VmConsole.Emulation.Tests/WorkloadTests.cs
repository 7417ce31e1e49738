using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation.Memory;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using Xunit.Abstractions;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

/// <summary>
/// The guest's pacing against a fake clock: the tests move time and count pages, so a busy machine slows them but
/// cannot change what they see (rates on real time belong in the benchmarks).
/// </summary>
public sealed class WorkloadTests : IDisposable
{
    /// <summary>How far the tests move the clock at a time: well within the backlog a workload makes up, so every step is owed in full.</summary>
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a step's pages may take to appear on a busy machine: a wait for the worker, not for time to pass.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _clock = new();
    private readonly TestEmulator _test;
    private readonly ITestOutputHelper _output;

    public WorkloadTests(ITestOutputHelper output)
    {
        _test = new TestEmulator(time: _clock);
        _output = output;
    }

    public void Dispose() => _test.Dispose();

    /// <summary>
    /// Moves the clock on by <see cref="Step"/> <paramref name="steps"/> times, each time waiting until the workload has
    /// written what <paramref name="pagesPerSecond"/> owes for a step, and returns the pages written in each step.
    /// </summary>
    private List<long> Advance(Vm vm, int steps, long pagesPerSecond)
    {
        var owed = pagesPerSecond * Step.Ticks / TimeSpan.TicksPerSecond;
        var perStep = new List<long>();
        var before = vm.Workload.PagesWritten;
        for (var i = 0; i < steps; i++)
        {
            _clock.Advance(Step);
            var caughtUp = true;
            try
            {
                Eventually.Wait(() => vm.Workload.PagesWritten >= before + owed, Patience);
            }
            catch (TimeoutException)
            {
                caughtUp = false;
            }

            var after = vm.Workload.PagesWritten;
            perStep.Add(after - before);
            before = after;
            if (!caughtUp)
            {
                break;
            }
        }

        return perStep;
    }

    private static byte[] FirstBytes(Vm vm, long pages)
    {
        var firstBytes = new byte[pages];
        var one = new byte[1];
        for (long page = 0; page < pages; page++)
        {
            vm.MainRam.Read(page * 4096, one);
            firstBytes[page] = one[0];
        }

        return firstBytes;
    }

    [Theory]
    [InlineData(WorkloadKind.Uniform, 1_000)]
    [InlineData(WorkloadKind.Uniform, 10_000)]
    [InlineData(WorkloadKind.Uniform, 100_000)]
    [InlineData(WorkloadKind.Sweep, 1_000)]
    [InlineData(WorkloadKind.Sweep, 10_000)]
    [InlineData(WorkloadKind.Sweep, 100_000)]
    [InlineData(WorkloadKind.Hotspot, 1_000)]
    [InlineData(WorkloadKind.Hotspot, 10_000)]
    [InlineData(WorkloadKind.Hotspot, 100_000)]
    public void Running_AnyKindAndRate_WritesTheRateEverySecondOfClock(WorkloadKind kind, long rate)
    {
        var vm = _test.CreateQ35(memoryBytes: 256 * MiB, workload: new WorkloadSpec(kind, rate, 64 * MiB), start: true);

        var perStep = Advance(vm, steps: 20, rate);

        _output.WriteLine($"{vm.Workload.Spec}: {string.Join(", ", perStep)} pages per {Step.TotalMilliseconds} ms");
        Assert.Equal(Enumerable.Repeat(rate / 10, 20), perStep);
        Assert.Equal(2 * rate, vm.Workload.PagesWritten);
    }

    [Fact]
    public void Running_Throttle50Percent_HalvesTheRate()
    {
        var vm = _test.CreateQ35(memoryBytes: 256 * MiB, workload: new WorkloadSpec(WorkloadKind.Uniform, 20_000, 64 * MiB), start: true);

        vm.Workload.ThrottlePercent = 50;
        var perStep = Advance(vm, steps: 10, 10_000);

        Assert.Equal(Enumerable.Repeat(1_000L, 10), perStep);
        Assert.Equal(10_000, vm.Workload.PagesWritten);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(100)]
    public void ThrottlePercent_OutOf0To99_InvalidThrottle(int percent)
    {
        var vm = _test.CreateQ35(memoryBytes: 64 * MiB);

        Expect.Code("invalid-throttle", () => vm.Workload.ThrottlePercent = percent);

        Assert.Equal(0, vm.Workload.ThrottlePercent);
    }

    [Fact]
    public void Sweep_RunThenPause_EveryPageEqualsPredecessorExceptWhereTheSweepIs()
    {
        const long workingPages = 256;
        var vm = _test.CreateQ35(memoryBytes: 64 * MiB, workload: new WorkloadSpec(WorkloadKind.Sweep, 10_000, workingPages * 4096), start: true);
        Advance(vm, steps: 5, 10_000);

        vm.Pause();
        var written = vm.Workload.PagesWritten;

        var firstBytes = FirstBytes(vm, workingPages + 1);
        var steps = Enumerable.Range(1, (int)workingPages - 1).Where(p => firstBytes[p] != firstBytes[p - 1]).ToList();
        var fullSweeps = written / workingPages;
        var sweepAt = written % workingPages;

        // QEMU's migration-test oracle: at most one place where a page differs from its predecessor...
        Assert.True(steps.Count <= 1, $"Pages differ from their predecessor at {string.Join(", ", steps)}.");
        Assert.Equal(5_000, written);

        // ...exactly where the sweep stopped (none when a sweep just ended), the pages before it one ahead.
        Assert.Equal(sweepAt == 0 ? [] : [(int)sweepAt], steps);
        Assert.Equal((byte)(fullSweeps + (sweepAt > 0 ? 1 : 0)), firstBytes[0]);
        Assert.Equal((byte)fullSweeps, firstBytes[workingPages - 1]);
        Assert.Equal(0, firstBytes[workingPages]); // outside the working set
    }

    [Fact]
    public void Hotspot_ShortRun_AboutEightyPercentOfWritesInFirstFifthOfPages()
    {
        const long workingPages = 256 * 1024 / 4; // 256 MiB
        var vm = _test.CreateQ35(memoryBytes: 256 * MiB, workload: new WorkloadSpec(WorkloadKind.Hotspot, 10_000), start: true);
        Advance(vm, steps: 3, 10_000);
        vm.Pause();
        var written = vm.Workload.PagesWritten;

        var words = new ulong[DirtyBitmap.WordsFor(vm.MainRam.DirtyLog.PageCount)];
        vm.MainRam.DirtyLog.SyncInto(words);
        const long hotPages = workingPages / 5;
        long hot = 0, cold = 0;
        for (long page = 0; page < workingPages; page++)
        {
            if ((words[page >> 6] & (1UL << (int)(page & 63))) == 0)
            {
                continue;
            }

            if (page < hotPages)
            {
                hot++;
            }
            else
            {
                cold++;
            }
        }

        // Distinct pages dirtied by 80% of n writes over the hot fifth and 20% over the rest, allowing for repeats.
        var expectedHot = hotPages * (1 - Math.Exp(-0.8 * written / hotPages));
        var expectedCold = (workingPages - hotPages) * (1 - Math.Exp(-0.2 * written / (workingPages - hotPages)));
        var hotShare = hot / (double)(hot + cold);
        var expectedShare = expectedHot / (expectedHot + expectedCold);
        _output.WriteLine($"{written} writes: {hot} hot and {cold} cold distinct pages; hot share {hotShare:P1}, expected {expectedShare:P1}");
        Assert.Equal(3_000, written);
        Assert.InRange(hotShare, expectedShare - 0.08, expectedShare + 0.08);
        Assert.InRange(hot + cold, (expectedHot + expectedCold) * 0.85, (expectedHot + expectedCold) * 1.15);
    }

    [Fact]
    public void Uniform_ShortRun_DirtiesPagesInProportionToTheirShare()
    {
        const long workingPages = 256 * 1024 / 4;
        var vm = _test.CreateQ35(memoryBytes: 256 * MiB, workload: new WorkloadSpec(WorkloadKind.Uniform, 10_000), start: true);
        Advance(vm, steps: 3, 10_000);
        vm.Pause();

        var words = new ulong[DirtyBitmap.WordsFor(vm.MainRam.DirtyLog.PageCount)];
        vm.MainRam.DirtyLog.SyncInto(words);
        var hot = Enumerable.Range(0, (int)(workingPages / 5)).Count(p => (words[p >> 6] & (1UL << (p & 63))) != 0);
        var all = words.Sum(w => System.Numerics.BitOperations.PopCount(w));

        // The control for the hotspot test: without a hotspot the first fifth gets about a fifth.
        Assert.InRange(hot / (double)all, 0.14, 0.26);
    }

    [Fact]
    public void Sweep_LargeWorkingSet_SampledDirtyRateEqualsWriteRate()
    {
        // Every write of a sweep over 64k pages hits a distinct page, so distinct dirty pages per second equal the rate.
        var vm = _test.CreateQ35(memoryBytes: 256 * MiB, workload: new WorkloadSpec(WorkloadKind.Sweep, 10_000), start: true);
        Advance(vm, steps: 2, 10_000);
        _test.Emulator.SampleDirtyRates();

        Advance(vm, steps: 8, 10_000);
        _test.Emulator.SampleDirtyRates();

        Assert.Equal(10_000, vm.MainRam.DirtyPagesPerSecond, tolerance: 0.01);
        Assert.Equal(0, vm.RamBlocks.Single(b => b.IdStr == "pc.bios").DirtyPagesPerSecond);
    }

    [Fact]
    public void SetWorkload_IdleWhileRunning_StopsWriting()
    {
        var vm = _test.CreateQ35(memoryBytes: 64 * MiB, workload: new WorkloadSpec(WorkloadKind.Uniform, 10_000, 16 * MiB), start: true);
        Advance(vm, steps: 1, 10_000);

        vm.SetWorkload(WorkloadSpec.Idle);
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(1_000, Expect.SettledPagesWritten(vm.Workload));
        Assert.Equal(WorkloadKind.Idle, vm.Workload.Spec.Kind);
    }

    [Theory]
    [InlineData(WorkloadKind.Uniform, 0, 0, "invalid-workload-rate")]
    [InlineData(WorkloadKind.Uniform, -1, 0, "invalid-workload-rate")]
    [InlineData(WorkloadKind.Sweep, 10_000_001, 0, "invalid-workload-rate")]
    [InlineData(WorkloadKind.Hotspot, 100, 65 * 1024 * 1024, "invalid-working-set")]
    [InlineData(WorkloadKind.Hotspot, 100, -4096, "invalid-working-set")]
    [InlineData(WorkloadKind.Uniform, 100, 5000, "invalid-working-set")]
    [InlineData((WorkloadKind)9, 100, 0, "invalid-workload")]
    public void SetWorkload_BadSpec_RefusedAndSpecUnchanged(WorkloadKind kind, long rate, long workingSet, string code)
    {
        var vm = _test.CreateQ35(memoryBytes: 64 * MiB);
        var changes = new List<VmChangeKind>();
        vm.Changed += (_, change) => changes.Add(change);

        Expect.Code(code, () => vm.SetWorkload(new WorkloadSpec(kind, rate, workingSet)));

        Assert.Same(WorkloadSpec.Idle, vm.Workload.Spec);
        Assert.Empty(changes);
    }

    [Fact]
    public void SetWorkload_Valid_SpecAppliedAndChangeRaised()
    {
        var vm = _test.CreateQ35(memoryBytes: 64 * MiB);
        var changes = new List<VmChangeKind>();
        vm.Changed += (_, change) => changes.Add(change);
        var spec = new WorkloadSpec(WorkloadKind.Sweep, 500, 64 * MiB);

        vm.SetWorkload(spec);

        Assert.Same(spec, vm.Workload.Spec);
        Assert.Equal([VmChangeKind.Workload], changes);
    }

    [Fact]
    public async Task DeleteVmAsync_RunningWorkload_ThreadStopsAndNothingWritesAfter()
    {
        var vm = _test.CreateQ35("busy", memoryBytes: 64 * MiB, workload: new WorkloadSpec(WorkloadKind.Uniform, 50_000, 16 * MiB), start: true);
        Advance(vm, steps: 1, 50_000);

        await _test.Emulator.DeleteVmAsync("busy");
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(5_000, Expect.SettledPagesWritten(vm.Workload));
        Assert.True(vm.MainRam.Memory.IsDisposed);
    }
}
