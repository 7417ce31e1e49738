using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

public sealed class PowerTransitionTests
{
    /// <summary>The legal transitions, written out: (action, from) to the state reached.</summary>
    private static readonly Dictionary<(PowerAction, RunState), RunState> Legal = new()
    {
        [(PowerAction.Start, RunState.Prelaunch)] = RunState.Running,
        [(PowerAction.Start, RunState.Shutdown)] = RunState.Running,
        [(PowerAction.Pause, RunState.Running)] = RunState.Paused,
        [(PowerAction.Resume, RunState.Paused)] = RunState.Running,
        [(PowerAction.Reset, RunState.Running)] = RunState.Running,
        [(PowerAction.Reset, RunState.Paused)] = RunState.Paused,
        [(PowerAction.Shutdown, RunState.Prelaunch)] = RunState.Shutdown,
        [(PowerAction.Shutdown, RunState.Running)] = RunState.Shutdown,
        [(PowerAction.Shutdown, RunState.Paused)] = RunState.Shutdown,
        [(PowerAction.Shutdown, RunState.InMigrate)] = RunState.Shutdown,
        [(PowerAction.Shutdown, RunState.FinishMigrate)] = RunState.Shutdown,
        [(PowerAction.Shutdown, RunState.PostMigrate)] = RunState.Shutdown,
    };

    public static TheoryData<PowerAction, RunState> EveryPair()
    {
        var data = new TheoryData<PowerAction, RunState>();
        foreach (var action in Enum.GetValues<PowerAction>())
        {
            foreach (var state in Enum.GetValues<RunState>())
            {
                data.Add(action, state);
            }
        }

        return data;
    }

    /// <summary>Brings a fresh VM into <paramref name="state"/> by the ways the product gets there.</summary>
    private static async Task<Vm> VmIn(TestEmulator test, RunState state)
    {
        var vm = test.CreateQ35(memoryBytes: 64 * MiB);
        switch (state)
        {
            case RunState.Prelaunch:
                break;
            case RunState.Running:
                vm.Start();
                break;
            case RunState.Paused:
                vm.Start();
                vm.Pause();
                break;
            case RunState.InMigrate:
                Assert.True(vm.TryChangeRunState(RunState.Prelaunch, RunState.InMigrate));
                break;
            case RunState.PostMigrate:
                vm.Start();
                Assert.True(vm.TryChangeRunState(RunState.Running, RunState.PostMigrate));
                break;
            case RunState.FinishMigrate:
                vm.Start();
                Assert.True(vm.TryChangeRunState(RunState.Running, RunState.FinishMigrate));
                break;
            case RunState.Shutdown:
                await vm.ShutdownAsync();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(state));
        }

        Assert.Equal(state, vm.RunState);
        return vm;
    }

    [Theory]
    [MemberData(nameof(EveryPair))]
    public async Task PowerAsync_AnyActionInAnyState_LegalReachesStateIllegalRefused(PowerAction action, RunState from)
    {
        using var test = new TestEmulator();
        var vm = await VmIn(test, from);
        var changes = new List<VmChangeKind>();
        vm.Changed += (_, kind) => changes.Add(kind);

        if (Legal.TryGetValue((action, from), out var expected))
        {
            await vm.PowerAsync(action);

            Assert.Equal(expected, vm.RunState);
            Assert.Equal([VmChangeKind.RunState], changes);
        }
        else
        {
            var exception = await Expect.CodeAsync("illegal-power-transition", () => vm.PowerAsync(action));

            Assert.Equal(ErrorKind.Conflict, exception.Kind);
            Assert.Contains($"Cannot {action.ToQemuName()} ", exception.Message, StringComparison.Ordinal);
            Assert.Contains($"while it is {from.ToQemuName()}", exception.Message, StringComparison.Ordinal);
            Assert.Equal(from, vm.RunState);
            Assert.Empty(changes);
        }
    }

    [Theory]
    [InlineData(RunState.InMigrate, "inmigrate")]
    [InlineData(RunState.PostMigrate, "postmigrate")]
    [InlineData(RunState.Prelaunch, "prelaunch")]
    [InlineData(RunState.FinishMigrate, "finish-migrate")]
    public void ToQemuName_RunState_QemuSpelling(RunState state, string expected) => Assert.Equal(expected, state.ToQemuName());

    [Fact]
    public async Task PowerAsync_UndefinedAction_InvalidPowerAction()
    {
        using var test = new TestEmulator();
        var vm = test.CreateQ35();

        await Expect.CodeAsync("invalid-power-action", () => vm.PowerAsync((PowerAction)42));
    }

    [Fact]
    public void TryChangeRunState_WrongExpectedState_FalseAndUnchanged()
    {
        using var test = new TestEmulator();
        var vm = test.CreateQ35();

        Assert.False(vm.TryChangeRunState(RunState.Running, RunState.PostMigrate));
        Assert.Equal(RunState.Prelaunch, vm.RunState);
    }

    [Fact]
    public async Task ShutdownThenStart_RunningVm_RunningAgainWithRamClearedAndFirmwareReloaded()
    {
        using var test = new TestEmulator();
        var vm = test.CreateQ35(memoryBytes: 64 * MiB, start: true);
        vm.WriteGuest(0x10_0000, [1, 2, 3, 4]);
        var bios = vm.RamBlocks.Single(b => b.IdStr == "pc.bios");
        var firmware = new byte[bios.UsedLength];
        bios.Read(0, firmware);

        await vm.ShutdownAsync();
        Assert.Equal(RunState.Shutdown, vm.RunState);
        vm.Start();

        Assert.Equal(RunState.Running, vm.RunState);
        var ram = new byte[4];
        vm.ReadGuest(0x10_0000, ram);
        Assert.Equal(new byte[4], ram);
        var reloaded = new byte[bios.UsedLength];
        bios.Read(0, reloaded);
        Assert.Equal(firmware, reloaded);
    }

    [Fact]
    public async Task ShutdownThenStart_ThenShutdownAgain_ShutDown()
    {
        using var test = new TestEmulator();
        var vm = test.CreateQ35(memoryBytes: 64 * MiB, start: true);

        await vm.ShutdownAsync();
        vm.Start();
        await vm.ShutdownAsync();

        Assert.Equal(RunState.Shutdown, vm.RunState);
    }

    [Fact]
    public void Reset_Running_RamKeepsItsBytes()
    {
        using var test = new TestEmulator();
        var vm = test.CreateQ35(memoryBytes: 64 * MiB, start: true);
        vm.WriteGuest(0x20_0000, [9, 8, 7]);

        vm.Reset();

        var ram = new byte[3];
        vm.ReadGuest(0x20_0000, ram);
        Assert.Equal(new byte[] { 9, 8, 7 }, ram);
    }

    [Fact]
    public void Workload_PrelaunchOrPaused_WritesNothing()
    {
        var clock = new FakeTimeProvider();
        using var test = new TestEmulator(time: clock);
        var vm = test.CreateQ35(memoryBytes: 64 * MiB, workload: new WorkloadSpec(WorkloadKind.Uniform, 20_000, 16 * MiB));

        // Never started: a second of the guest's clock writes nothing.
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, Expect.SettledPagesWritten(vm.Workload));

        // Running: 100 ms owe 2,000 pages.
        vm.Start();
        clock.Advance(TimeSpan.FromMilliseconds(100));
        Eventually.Wait(() => vm.Workload.PagesWritten >= 2_000, TimeSpan.FromSeconds(10), () => "The workload wrote nothing while running");
        Assert.Equal(2_000, vm.Workload.PagesWritten);

        // Paused: another second writes nothing.
        vm.Pause();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2_000, Expect.SettledPagesWritten(vm.Workload));
        Assert.Equal(RunState.Paused, vm.RunState);

        // Resumed: the next 100 ms owe the next 2,000, the pause none.
        vm.Resume();
        clock.Advance(TimeSpan.FromMilliseconds(100));
        Eventually.Wait(() => vm.Workload.PagesWritten >= 4_000, TimeSpan.FromSeconds(10), () => "The workload did not write again after resume");
        Assert.Equal(4_000, Expect.SettledPagesWritten(vm.Workload));
    }
}
