using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Qemu.Guests;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Tests;

/// <summary>A QEMU VM's power and state against real QEMU 7.2; every process started here ends, even when a test fails.</summary>
public sealed class QemuVmTests : IAsyncLifetime
{
    private readonly string _directory = QemuProcess.TempDirectory();
    private readonly QemuLauncher _launcher = new(QemuLauncher.FindBinary() ?? QemuLauncher.DefaultBinary);
    private readonly List<QemuVm> _vms = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var vm in _vms)
        {
            vm.Kill();
            await Eventually.Until(() => !QemuInstance.IsProcessAlive(vm.Pid), TimeSpan.FromSeconds(30), () => $"QEMU pid {vm.Pid} outlived its test");
            await vm.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Power_PauseResumeReset_StatesFollowAndIllegalStepsAreRefused()
    {
        var vm = await StartAsync("power-1");
        var changes = 0;
        vm.Changed += _ => Interlocked.Increment(ref changes);
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.Equal(7, vm.QemuVersion.Major);
        Assert.Contains("-kernel", vm.CommandLine);

        await vm.PauseAsync();
        Assert.Equal(RunState.Paused, vm.RunState);
        var twice = await Assert.ThrowsAsync<DomainException>(() => vm.PauseAsync());
        Assert.Equal(ErrorCodes.IllegalPowerTransition, twice.Code);

        await vm.ResumeAsync();
        Assert.Equal(RunState.Running, vm.RunState);
        await vm.ResetAsync();
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.True(Volatile.Read(ref changes) >= 2, $"{changes} changes raised");
    }

    [Fact]
    public async Task Shutdown_GuestIgnoresThePowerButton_QuitAfterTheGraceAndTheProcessIsGone()
    {
        var vm = await StartAsync("power-2");

        await vm.ShutdownAsync(TimeSpan.FromSeconds(1));

        await Eventually.Until(() => vm.ExitReason is not null, TimeSpan.FromSeconds(30));
        Assert.Equal(RunState.Shutdown, vm.RunState);
        Assert.False(QemuInstance.IsProcessAlive(vm.Pid));
        var gone = await Assert.ThrowsAsync<DomainException>(() => vm.PauseAsync());
        Assert.Equal(ErrorCodes.IllegalPowerTransition, gone.Code);
    }

    [Fact]
    public async Task ProcessDies_ByItself_ShownAsShutDownWithTheReason()
    {
        var vm = await StartAsync("crash-1");
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        vm.Changed += v =>
        {
            if (v.ExitReason is not null)
            {
                changed.TrySetResult();
            }
        };

        vm.Kill();

        await changed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(RunState.Shutdown, vm.RunState);
        Assert.Equal("its QEMU process exited", vm.ExitReason);
        var gone = await Assert.ThrowsAsync<DomainException>(() => vm.RamBlocksAsync());
        Assert.Equal(ErrorCodes.QemuGone, gone.Code);
    }

    /// <summary>A console restart: the guest kept running, and the console follows the same process again.</summary>
    [Fact]
    public async Task Attach_AfterTheConsoleLetGo_SameProcessStillRunningThenNoneOnceItIsGone()
    {
        var vm = await StartAsync("attach-1");
        var (pid, directory) = (vm.Pid, vm.RuntimeDirectory);
        _vms.Remove(vm);
        await vm.DisposeAsync();
        Assert.True(QemuInstance.IsProcessAlive(pid), "letting go of the monitor ended the guest");

        var again = await QemuVm.AttachAsync(_launcher, vm.Spec, directory);

        Assert.NotNull(again);
        _vms.Add(again);
        Assert.Equal((pid, RunState.Running), (again.Pid, again.RunState));
        again.Kill();
        await Eventually.Until(() => !QemuInstance.IsProcessAlive(pid), TimeSpan.FromSeconds(30));
        Assert.Null(await QemuVm.AttachAsync(_launcher, vm.Spec, directory));
    }

    [Fact]
    public async Task DirtyRate_SweepGuest_QemuMeasuresItsWrites()
    {
        var vm = await StartAsync("rate-1");

        var rate = await vm.MeasureDirtyRateAsync();

        Assert.True(rate > 0, $"dirty rate {rate} MB/s");
    }

    /// <summary>QEMU 7.2 accepts cont on a source that migrated away (two guests then run); the console refuses it.</summary>
    [Fact]
    public async Task Resume_SourceInPostmigrate_RefusedBeforeQemuSeesIt()
    {
        var vm = await StartAsync("postmigrate-1");

        // Paused first, so that the guest's writes cannot keep the migration from converging.
        await vm.PauseAsync();
        await vm.Instance.Qmp.ExecuteAsync("migrate", new Dictionary<string, object> { ["uri"] = "exec:cat > /dev/null" });
        await Eventually.UntilAsync(
            async () =>
            {
                await vm.RefreshAsync();
                return vm.RunState == RunState.PostMigrate;
            },
            TimeSpan.FromSeconds(60),
            () => $"the VM is {vm.QemuStatus}");

        var refused = await Assert.ThrowsAsync<DomainException>(() => vm.ResumeAsync());

        Assert.Equal(ErrorCodes.VmPostmigrate, refused.Code);
        await vm.RefreshAsync();
        Assert.Equal(RunState.PostMigrate, vm.RunState);
    }

    private async Task<QemuVm> StartAsync(string name)
    {
        var spec = new QemuVmSpec(name, "q35", 128 * Sizes.MiB) { Guest = SweepGuest.For(128 * Sizes.MiB) };
        var vm = await QemuVm.StartAsync(_launcher, spec, Path.Combine(_directory, name));
        _vms.Add(vm);
        return vm;
    }
}
