using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Guests;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

/// <summary>
/// The QEMU driver behind the console's one face for VMs, against real QEMU 7.2: defining, starting, inspecting and
/// deleting VMs, finding them again after a restart, and moving one to another QEMU host by live migration. Every
/// process started under this test's directory is killed at the end, even when a test fails.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class QemuDriverTests : IAsyncLifetime
{
    private readonly string _directory = QemuProcess.TempDirectory();
    private readonly List<QemuDriver> _drivers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await QemuProcess.KillAllUnderAsync(_directory);
        foreach (var driver in _drivers)
        {
            await driver.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Create_PcWithSweepGuest_RunsWithItsNameAndTheTableQemuReports()
    {
        var driver = NewDriver();

        var vm = await driver.CreateVirtualMachineAsync(new VmDefinition("sweep-1", "qhost-a", "pc", 64 * Sizes.MiB) { Slots = 2, MaxMemBytes = 256 * Sizes.MiB, Guest = GuestProgram.Sweep, Start = true });

        Assert.Equal(RunState.Running, vm.RunState);
        Assert.Equal(DriverKind.Qemu, vm.Driver);
        var process = Assert.IsType<VmProcessInfo>(vm.Process);
        Assert.True(QemuInstance.IsProcessAlive(process.Pid));
        Assert.StartsWith("7.", process.QemuVersion, StringComparison.Ordinal);
        Assert.Equal(["-name", "sweep-1"], process.CommandLine.Take(2));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(process.RuntimeDirectory));
        var blocks = await vm.GetRamBlocksAsync();
        var ram = Assert.Single(blocks, b => b.IdStr == "pc.ram");
        Assert.Equal(64 * Sizes.MiB, ram.UsedLength);
        Assert.True(ram.Migratable);
        Assert.Equal(blocks.Count, blocks.Select(b => b.Id).Distinct().Count());
        Assert.Same(vm, Assert.Single(driver.Domains));

        // The inspector's read (pmemsave): the sweep guest has been counting in the first byte of each page from 2 MiB.
        await Eventually.UntilAsync(async () => (await vm.ReadGuestPhysicalAsync(SweepGuest.LowestStart, 4096))[0] != 0, TimeSpan.FromSeconds(30), () => "the sweep guest never wrote its first page");
        var refused = await Assert.ThrowsAsync<DomainException>(() => vm.ReadGuestPhysicalAsync(0, QemuDomain.MaxReadBytes + 1));
        Assert.Equal(ErrorCodes.OutOfRange, refused.Code);
        Assert.Empty(Directory.GetFiles(process.RuntimeDirectory, "inspect-*"));
        Assert.Equal(64 * Sizes.MiB, driver.Hosts[0].ReservedBytes);
    }

    [Fact]
    public async Task Memory_AddPlugAndRemoveABackend_TheTableFollowsAndIdsStayStable()
    {
        var driver = NewDriver();
        var vm = await driver.CreateVirtualMachineAsync(new VmDefinition("mem-1", "qhost-a", "q35", 64 * Sizes.MiB) { Slots = 2, MaxMemBytes = 512 * Sizes.MiB, Start = true });

        var spare = await vm.AddBackendAsync("spare0", 32 * Sizes.MiB);
        Assert.False(spare.Migratable);
        Assert.Equal("spare0", spare.BackendId);
        var plugged = await vm.AddBackendAsync("dimm0", 64 * Sizes.MiB);
        var device = await vm.PlugDimmAsync("dimm0-dev", "dimm0");
        Assert.Equal("dimm0", device.Memdev);
        Assert.Equal(64 * Sizes.MiB, device.Size);
        var blocks = await vm.GetRamBlocksAsync();
        var dimm = Assert.Single(blocks, b => b.BackendId == "dimm0");
        Assert.Equal(plugged.Id, dimm.Id);
        Assert.True(dimm.Migratable);
        Assert.Equal("dimm0-dev", dimm.DeviceId);

        await vm.RemoveBlockAsync(spare.Id);
        Assert.DoesNotContain(await vm.GetRamBlocksAsync(), b => b.BackendId == "spare0");
        var used = await Assert.ThrowsAsync<DomainException>(() => vm.RemoveBlockAsync(dimm.Id));
        Assert.Equal(ErrorCodes.BackendInUse, used.Code);
        var machine = await Assert.ThrowsAsync<DomainException>(() => vm.RemoveBlockAsync(blocks.Single(b => b.IdStr == "pc.ram").Id));
        Assert.Equal(ErrorCodes.MachineBlock, machine.Code);
        Assert.Equal([new QemuMemoryBackend("dimm0", 64 * Sizes.MiB, "dimm0-dev")], ((QemuDomain)vm).Spec.Backends);
    }

    [Fact]
    public async Task Restart_ANewDriverOnTheSameDirectories_ReattachesToTheSameProcessAndListsTheStoppedOneAsShutOff()
    {
        var first = NewDriver();
        var running = await first.CreateVirtualMachineAsync(new VmDefinition("keep-1", "qhost-a", "pc", 32 * Sizes.MiB) { Guest = GuestProgram.Sweep, Start = true });
        await running.AddBackendAsync("extra0", 16 * Sizes.MiB);
        var stopped = await first.CreateVirtualMachineAsync(new VmDefinition("keep-2", "qhost-a", "pc", 32 * Sizes.MiB));
        var pid = running.Process!.Pid;
        var commandLine = running.Process.CommandLine;
        await first.DisposeAsync();
        Assert.True(QemuInstance.IsProcessAlive(pid));

        var second = NewDriver();
        await second.LoadAsync();

        Assert.Equal(["keep-1", "keep-2"], second.Domains.Select(d => d.Name));
        var again = second.GetDomain("keep-1");
        Assert.Equal(running.Id, again.Id);
        Assert.Equal(RunState.Running, again.RunState);
        Assert.Equal(pid, again.Process!.Pid);
        Assert.Equal(commandLine, again.Process.CommandLine);
        Assert.Contains(again.Spec.Backends, b => b.Id == "extra0");
        var off = second.GetDomain("keep-2");
        Assert.Equal(stopped.Id, off.Id);
        Assert.Equal(RunState.Shutdown, off.RunState);
        Assert.NotNull(off.StateReason);
        Assert.Null(off.Process);
    }

    [Fact]
    public async Task Power_ShutdownThenStartThenDelete_ProcessesComeAndGoAndTheDirectoryIsRemoved()
    {
        var driver = NewDriver();
        var vm = await driver.CreateVirtualMachineAsync(new VmDefinition("cycle-1", "qhost-a", "pc", 32 * Sizes.MiB) { Start = true });
        var firstPid = vm.Process!.Pid;

        await vm.PowerAsync(PowerAction.Shutdown);
        Assert.Equal(RunState.Shutdown, vm.RunState);
        Assert.False(QemuInstance.IsProcessAlive(firstPid));
        var paused = await Assert.ThrowsAsync<DomainException>(() => vm.PowerAsync(PowerAction.Pause));
        Assert.Equal(ErrorCodes.VmNotRunning, paused.Code);

        await vm.PowerAsync(PowerAction.Start);
        Assert.Equal(RunState.Running, vm.RunState);
        var secondPid = vm.Process!.Pid;
        Assert.NotEqual(firstPid, secondPid);
        var twice = await Assert.ThrowsAsync<DomainException>(() => vm.PowerAsync(PowerAction.Start));
        Assert.Equal(ErrorCodes.IllegalPowerTransition, twice.Code);

        await driver.DeleteVirtualMachineAsync("cycle-1");
        Assert.False(QemuInstance.IsProcessAlive(secondPid));
        Assert.Empty(driver.Domains);
        Assert.False(Directory.Exists(driver.Hosts[0].VmDirectory("cycle-1")));
    }

    [Fact]
    public async Task Create_InvalidOrUnsupported_RefusedBeforeQemuAndNothingIsLeft()
    {
        var driver = NewDriver();

        var workload = await Assert.ThrowsAsync<DomainException>(() => driver.CreateVirtualMachineAsync(
            new VmDefinition("bad-1", "qhost-a", "pc", 32 * Sizes.MiB) { Workload = new Emulation.Workloads.WorkloadSpec(Emulation.Workloads.WorkloadKind.Uniform, 100) }));
        Assert.Equal(ErrorCodes.NotSupportedByDriver, workload.Code);
        var microvm = await Assert.ThrowsAsync<DomainException>(() => driver.CreateVirtualMachineAsync(
            new VmDefinition("bad-2", "qhost-a", "microvm", 32 * Sizes.MiB) { Guest = GuestProgram.Sweep }));
        Assert.Equal("guest", microvm.Field);
        var name = await Assert.ThrowsAsync<DomainException>(() => driver.CreateVirtualMachineAsync(
            new VmDefinition("bad name; rm -rf /", "qhost-a", "pc", 32 * Sizes.MiB)));
        Assert.Equal(ErrorCodes.InvalidName, name.Code);
        var big = await Assert.ThrowsAsync<DomainException>(() => driver.CreateVirtualMachineAsync(
            new VmDefinition("big-1", "qhost-a", "pc", 8 * Sizes.GiB)));
        Assert.Equal(ErrorCodes.HostCapacity, big.Code);

        Assert.Empty(driver.Domains);
        Assert.False(Directory.Exists(Path.Combine(driver.Hosts[0].RuntimeDirectory, "vms", "big-1")));
    }

    [Fact]
    public async Task Host_QemuBinaryMissing_IsUnavailableWithTheReasonAndRefusesVms()
    {
        var driver = new QemuDriver([new QemuHostConfig("qhost-x", 4 * Sizes.GiB, "/nonexistent/qemu-system-x86_64", Path.Combine(_directory, "x"))], TimeSpan.FromSeconds(10));
        _drivers.Add(driver);

        var host = Assert.Single(driver.Hosts);
        Assert.Contains("was not found", host.UnavailableReason, StringComparison.Ordinal);
        Assert.Null(host.Launcher);
        var refused = await Assert.ThrowsAsync<DomainException>(() => driver.CreateVirtualMachineAsync(new VmDefinition("nope-1", "qhost-x", "pc", 32 * Sizes.MiB)));
        Assert.Equal(ErrorCodes.HostUnavailable, refused.Code);
        await driver.LoadAsync();
        Assert.Empty(driver.Domains);
    }

    [Fact]
    public async Task Migrate_ToTheOtherQemuHost_TheVmMovesWithItsNewProcessAndTheOldDirectoryGoes()
    {
        var driver = NewDriver();
        var vm = await driver.CreateVirtualMachineAsync(new VmDefinition("move-1", "qhost-a", "pc", 64 * Sizes.MiB) { Guest = GuestProgram.Sweep, Start = true });
        var sourcePid = vm.Process!.Pid;
        var registry = new MigrationRegistry();
        var moved = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        driver.InventoryChanged += (kind, name) =>
        {
            if (kind == InventoryChangeKind.VmMoved && name == "move-1")
            {
                moved.TrySetResult();
            }
        };

        var statesSeen = new System.Collections.Concurrent.ConcurrentQueue<RunState>();
        vm.StateChanged += (v, _) => statesSeen.Enqueue(v.RunState);
        var migration = await driver.MigrateAsync("move-1", "qhost-b", MigrationParameters.Default with { MaxBandwidth = 256L << 20 }, MigrationCapabilities.Default with { AutoConverge = true }, registry);
        string? hostAtCompleted = null;
        migration.StatusChanged += (_, status) =>
        {
            if (status == MigrationStatus.Completed)
            {
                hostAtCompleted = $"{vm.HostName} {vm.RunState} moved={moved.Task.IsCompleted}";
            }
        };
        Assert.Same(migration, registry.ActiveFor("move-1"));
        Assert.True(vm.Frozen);
        var second = await Assert.ThrowsAsync<MigratableSetFrozenException>(() => driver.MigrateAsync("move-1", "qhost-b", MigrationParameters.Default, MigrationCapabilities.Default, registry));
        Assert.Equal(migration.Id, second.MigrationId);
        await migration.Finished.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        await moved.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Whoever reacts to completed finds the VM moved and running there; it was never shown shut off on the way.
        Assert.Equal($"qhost-b {RunState.Running} moved=True", hostAtCompleted);
        Assert.DoesNotContain(RunState.Shutdown, statesSeen);
        Assert.Equal("qhost-b", vm.HostName);
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.NotEqual(sourcePid, vm.Process!.Pid);
        Assert.StartsWith(driver.Hosts[1].RuntimeDirectory, vm.Process.RuntimeDirectory, StringComparison.Ordinal);
        await Eventually.Until(() => !QemuInstance.IsProcessAlive(sourcePid), TimeSpan.FromSeconds(30), () => $"source pid {sourcePid} still runs");
        await Eventually.Until(() => !Directory.Exists(driver.Hosts[0].VmDirectory("move-1")), TimeSpan.FromSeconds(30), () => "the source's folder stayed");
        Assert.False(vm.Frozen);
        var reloaded = NewDriver();
        await reloaded.LoadAsync();
        Assert.Equal("qhost-b", reloaded.GetDomain("move-1").HostName);
    }

    [Fact]
    public async Task ProcessExitsByItself_TheVmIsShutOffWithTheReasonAndCanStartAgain()
    {
        var driver = NewDriver();
        var vm = await driver.CreateVirtualMachineAsync(new VmDefinition("gone-1", "qhost-a", "pc", 32 * Sizes.MiB) { Start = true });
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        vm.StateChanged += (v, _) =>
        {
            if (v.RunState == RunState.Shutdown)
            {
                changed.TrySetResult();
            }
        };

        QemuInstance.Kill(vm.Process!.Pid);

        await changed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(RunState.Shutdown, vm.RunState);
        Assert.Contains("exited", vm.StateReason, StringComparison.Ordinal);
        Assert.Null(vm.Process);
        await vm.PowerAsync(PowerAction.Start);
        Assert.Equal(RunState.Running, vm.RunState);
    }

    [Fact]
    public async Task Delete_DuringAMigration_CancelsItAndLeavesNoProcess()
    {
        var driver = NewDriver();
        var vm = await driver.CreateVirtualMachineAsync(new VmDefinition("del-1", "qhost-a", "pc", 128 * Sizes.MiB) { Guest = GuestProgram.Sweep, Start = true });
        var sourcePid = vm.Process!.Pid;
        var migration = await driver.MigrateAsync("del-1", "qhost-b", MigrationParameters.Default with { MaxBandwidth = 1 << 20 }, MigrationCapabilities.Default, new MigrationRegistry());
        var destinationPid = int.Parse(await File.ReadAllTextAsync(Path.Combine(driver.Hosts[1].VmDirectory("del-1"), QemuCommandLine.PidFile)), System.Globalization.CultureInfo.InvariantCulture);

        await driver.DeleteVirtualMachineAsync("del-1");

        Assert.Equal(MigrationStatus.Cancelled, migration.Status);
        Assert.Empty(driver.Domains);
        Assert.False(QemuInstance.IsProcessAlive(sourcePid));
        await Eventually.Until(() => !QemuInstance.IsProcessAlive(destinationPid), TimeSpan.FromSeconds(30), () => $"destination QEMU {destinationPid} outlived the delete");
        await Eventually.Until(() => !Directory.Exists(driver.Hosts[1].VmDirectory("del-1")), TimeSpan.FromSeconds(30), () => "the destination's folder stayed");
    }

    [Fact]
    public async Task Migrate_TheArrivingQemu_CountsOnItsHostUntilItIsGone()
    {
        var driver = NewDriver(capacityB: 192 * Sizes.MiB);
        await driver.CreateVirtualMachineAsync(new VmDefinition("cap-1", "qhost-a", "pc", 128 * Sizes.MiB) { Guest = GuestProgram.Sweep, Start = true });
        var hostB = driver.Hosts[1];
        Assert.Equal(0, hostB.ReservedBytes);

        var migration = await driver.MigrateAsync("cap-1", "qhost-b", MigrationParameters.Default with { MaxBandwidth = 1 << 20 }, MigrationCapabilities.Default, new MigrationRegistry());

        Assert.Equal(128 * Sizes.MiB, hostB.ReservedBytes);
        var refused = await Assert.ThrowsAsync<DomainException>(() => driver.CreateVirtualMachineAsync(new VmDefinition("cap-2", "qhost-b", "pc", 128 * Sizes.MiB)));
        Assert.Equal(ErrorCodes.HostCapacity, refused.Code);
        Assert.Contains("64 MiB free", refused.Message, StringComparison.Ordinal);

        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(MigrationStatus.Cancelled, migration.Status);
        await Eventually.Until(() => hostB.ReservedBytes == 0, TimeSpan.FromSeconds(30), () => $"qhost-b still holds {hostB.ReservedBytes} bytes");
        Assert.Equal("qhost-a", driver.GetDomain("cap-1").HostName);
    }

    private QemuDriver NewDriver(long capacityB = 4 * Sizes.GiB)
    {
        var driver = new QemuDriver(
            [
                new QemuHostConfig("qhost-a", 4 * Sizes.GiB, QemuLauncher.DefaultBinary, Path.Combine(_directory, "a")),
                new QemuHostConfig("qhost-b", capacityB, QemuLauncher.DefaultBinary, Path.Combine(_directory, "b")),
            ],
            TimeSpan.FromSeconds(10));
        _drivers.Add(driver);
        return driver;
    }
}
