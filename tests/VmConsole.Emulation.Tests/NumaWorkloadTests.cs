using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

/// <summary>The guest workload of a NUMA VM writes guest RAM as one range, across its nodes' blocks.</summary>
public sealed class NumaWorkloadTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _clock = new();
    private readonly TestEmulator _test;

    public NumaWorkloadTests() => _test = new TestEmulator(time: _clock);

    public void Dispose() => _test.Dispose();

    [Fact]
    public async Task Sweep_WholeRamOfTwoNodes_EveryPageOfBothNodesWrittenOnceInGuestOrder()
    {
        // Two 1 MiB nodes: 512 pages of guest RAM, swept once at 512 pages per second.
        var vm = _test.Emulator.CreateVm(TestEmulator.Definition("numa-1", "q35", 2 * MiB) with
        {
            NumaNodes = [new NumaNode("m0", MiB), new NumaNode("m1", MiB)],
            Workload = new WorkloadSpec(WorkloadKind.Sweep, 512),
            Start = true,
        });

        await Eventually.AdvanceUntil(
            _clock, TimeSpan.FromMilliseconds(50), () => vm.Workload.HasCaughtUpWith(_clock.GetTimestamp()), () => vm.Workload.PagesWritten >= 512, Patience);
        vm.Pause();

        Assert.Equal(512, vm.Workload.PagesWritten);
        var first = new byte[1];
        foreach (var node in vm.MainRamBlocks)
        {
            for (long page = 0; page < 256; page++)
            {
                node.Read(page * 4096, first);
                Assert.True(first[0] == 1, $"page {page} of '{node.IdStr}' holds {first[0]}");
            }
        }

        var guest = new byte[1];
        vm.ReadGuest(MiB + 4096, guest);
        Assert.Equal(1, guest[0]);
    }
}
