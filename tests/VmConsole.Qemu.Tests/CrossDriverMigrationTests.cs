using System.Globalization;
using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Guests;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

/// <summary>
/// Live migration between the drivers against real QEMU 7.2: an emulated VM into a QEMU the console starts, and a QEMU
/// VM into the console's listener, completed with their memory, and cancelled with the source running on. Every
/// process started under this test's directory is killed at the end, even when a test fails.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CrossDriverMigrationTests : CrossDriverTests
{
    [Fact]
    public async Task ToQemu_RunningEmulatedVmWithBytesAndADimm_QemuRunsItWithTheSameIdAndTheBytes()
    {
        var vm = Emulator.CreateVm(new VmDefinition("cross-1", "ehost-a", "pc", 64 * Sizes.MiB) { Slots = 2, MaxMemBytes = 256 * Sizes.MiB, Start = true });
        vm.AddMemoryBackend("mem1", 32 * Sizes.MiB);
        var dimm = vm.PlugDimm("dimm1", "mem1");
        (long Address, int Length)[] places = [(0x200_0000, 4096), (0x300_0123, 77), (dimm.Address + 0x1000, 4096)];
        foreach (var (address, length) in places)
        {
            vm.WriteGuest(address, Pattern(address, length));
        }

        var arrived = ArrivedOnQemu("cross-1");

        var migration = await Cross.MigrateToQemuAsync("cross-1", "qhost-a", MigrationParameters.Default with { MaxBandwidth = 1L << 30 }, MigrationCapabilities.Default);
        Assert.Same(migration, Engine.Registry.ActiveFor("cross-1"));
        // The QEMU host is the destination the console shows, not just the socket in its folder.
        Assert.Equal(("ehost-a", "qhost-a"), (migration.SourceHost, migration.DestinationHost));
        Assert.StartsWith("unix:", migration.Uri, StringComparison.Ordinal);
        await migration.Finished.WaitAsync(Bound);
        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        await arrived.WaitAsync(Bound);

        var domain = Driver.GetDomain("cross-1");
        Assert.Equal(vm.Id, domain.Id);
        Assert.Equal("qhost-a", domain.HostName);
        Assert.False(Emulator.IsNameTaken("cross-1"));
        Assert.Same(domain, new VmInventory([Emulator, Driver]).Get("cross-1"));
        await Eventually.Until(() => domain.RunState == RunState.Running, failure: () => $"the QEMU VM is {domain.RunState}");
        Assert.False(domain.Spec.Incoming);
        Assert.False(domain.Spec.Paused);
        Assert.Equal([new QemuMemoryBackend("mem1", 32 * Sizes.MiB, "dimm1")], domain.Spec.Backends);
        foreach (var (address, length) in places)
        {
            Assert.Equal(Pattern(address, length), await PhysicalMemoryAsync(domain, address, length));
        }

        // Its definition is where the driver finds it after a restart, under the VM's id, without -incoming.
        QemuDomainFile? file = null;
        await Eventually.UntilAsync(async () => (file = await QemuDomainFile.LoadAsync(Driver.Hosts[0].VmDirectory("cross-1"))) is not null, failure: () => "no domain.json");
        Assert.Equal(vm.Id, file!.Id);
        Assert.Equal("qhost-a", file.Host);
        Assert.False(file.ToSpec().Incoming);
    }

    [Fact]
    public async Task ToQemu_PausedEmulatedVm_ArrivesPaused()
    {
        var vm = Emulator.CreateVm(new VmDefinition("cross-2", "ehost-a", "q35", 32 * Sizes.MiB) { Start = true });
        vm.WriteGuest(0x100_0000, Pattern(0x100_0000, 4096));
        vm.Pause();
        var arrived = ArrivedOnQemu("cross-2");

        var migration = await Cross.MigrateToQemuAsync("cross-2", "qhost-a", MigrationParameters.Default, MigrationCapabilities.Default);
        await migration.Finished.WaitAsync(Bound);
        await arrived.WaitAsync(Bound);

        Assert.Equal(MigrationStatus.Completed, migration.Status);
        var domain = Driver.GetDomain("cross-2");
        Assert.Equal(RunState.Paused, domain.RunState);
        Assert.Equal(Pattern(0x100_0000, 4096), await PhysicalMemoryAsync(domain, 0x100_0000, 4096));
    }

    [Fact]
    public async Task ToQemu_AMigratableBlockQemuDoesNotHave_RefusedNamingItAndNothingIsLeft()
    {
        var vm = Emulator.CreateVm(new VmDefinition("cross-3", "ehost-a", "pc", 32 * Sizes.MiB) { Start = true });
        var spare = vm.AddMemoryBackend("spare0", 16 * Sizes.MiB);
        vm.SetMigratable(spare.Id, true);

        var refused = await Assert.ThrowsAsync<DomainException>(() => Cross.MigrateToQemuAsync("cross-3", "qhost-a", MigrationParameters.Default, MigrationCapabilities.Default));

        Assert.Equal(ErrorCodes.LayoutMismatch, refused.Code);
        Assert.Contains("'spare0'", refused.Message, StringComparison.Ordinal);
        Assert.Empty(Engine.Registry.All);
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.False(Driver.IsNameTaken("cross-3"));
        Assert.False(Directory.Exists(Driver.Hosts[0].VmDirectory("cross-3")));
        await Eventually.Until(() => QemuPidsUnder(Driver.Hosts[0].VmDirectory("cross-3")).Count == 0, failure: () => "the destination QEMU still runs");
    }

    [Fact]
    public async Task ToQemu_CancelledWhileActive_TheEmulatedVmRunsOnAndTheDestinationQemuIsGone()
    {
        var vm = Emulator.CreateVm(new VmDefinition("cross-4", "ehost-a", "pc", 64 * Sizes.MiB) { Start = true });
        for (long address = 0x20_0000; address < 0x300_0000; address += 4096)
        {
            vm.WriteGuest(address, Pattern(address, 4096));
        }

        var migration = await Cross.MigrateToQemuAsync("cross-4", "qhost-a", MigrationParameters.Default with { MaxBandwidth = Sizes.MiB }, MigrationCapabilities.Default);
        var directory = Driver.Hosts[0].VmDirectory("cross-4");
        Assert.NotEmpty(QemuPidsUnder(directory));
        await Eventually.Until(() => migration.Status == MigrationStatus.Active, failure: () => $"migration is {migration.Status}");
        migration.Cancel();
        await migration.Finished.WaitAsync(Bound);

        Assert.Equal(MigrationStatus.Cancelled, migration.Status);
        Assert.Same(vm, Emulator.GetVm("cross-4"));
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.False(Driver.IsNameTaken("cross-4"));
        await Eventually.Until(() => QemuPidsUnder(directory).Count == 0 && !Directory.Exists(directory), failure: () => "the destination QEMU or its directory is still there");
    }

    [Fact]
    public async Task FromQemu_SweepGuest_TheEmulatedVmHasItsMemoryAndTheSourceQemuIsGone()
    {
        var domain = (QemuDomain)await Driver.CreateVirtualMachineAsync(new VmDefinition("sweep-x", "qhost-a", "pc", 128 * Sizes.MiB) { Guest = GuestProgram.Sweep, Start = true });
        // The guest has begun its sweep (its first page counted) before it moves, however slow the machine.
        await Eventually.UntilAsync(async () => (await domain.ReadGuestPhysicalAsync(SweepGuest.LowestStart, 1))[0] != 0, Bound, () => "the sweep guest never ran");
        var sourcePid = domain.Process!.Pid;
        var left = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Driver.InventoryChanged += (kind, name) =>
        {
            if (kind == InventoryChangeKind.VmMoved && name == "sweep-x" && !Driver.IsNameTaken("sweep-x"))
            {
                left.TrySetResult();
            }
        };

        var migration = await Cross.MigrateFromQemuAsync("sweep-x", "ehost-a", MigrationParameters.Default with { MaxBandwidth = 1L << 30 }, MigrationCapabilities.Default with { AutoConverge = true });
        Assert.Same(migration, Engine.Registry.ActiveFor("sweep-x"));
        Assert.Equal(("qhost-a", "ehost-a"), (migration.SourceHost, migration.DestinationHost));
        Assert.True(domain.Frozen);
        Assert.Equal(DriverKind.Qemu, new VmInventory([Emulator, Driver]).Get("sweep-x").Driver);
        await migration.Finished.WaitAsync(Bound);
        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        await left.Task.WaitAsync(Bound);

        var vm = Emulator.GetVm("sweep-x");
        Assert.Same(vm, new VmInventory([Emulator, Driver]).Get("sweep-x"));
        AssertSweepWhole(vm);
        Assert.Contains(vm.DeviceState!.Sections, s => s.IdStr == "cpu");
        await Eventually.Until(() => !QemuInstance.IsProcessAlive(sourcePid), failure: () => $"source pid {sourcePid} still runs");
        // The source's folder goes once its QEMU has quit, after the VM has moved.
        await Eventually.Until(() => !Directory.Exists(Driver.Hosts[0].VmDirectory("sweep-x")), failure: () => "the source's folder stayed");
    }

    [Fact]
    public async Task FromQemu_CancelledWhileActive_TheSourceRunsAgainUnfrozenAndNoVmArrives()
    {
        var domain = (QemuDomain)await Driver.CreateVirtualMachineAsync(new VmDefinition("sweep-y", "qhost-a", "pc", 64 * Sizes.MiB) { Guest = GuestProgram.Sweep, Start = true });
        await Eventually.UntilAsync(async () => (await domain.ReadGuestPhysicalAsync(SweepGuest.LowestStart, 1))[0] != 0, Bound, () => "the sweep guest never ran");
        var pid = domain.Process!.Pid;

        var migration = await Cross.MigrateFromQemuAsync("sweep-y", "ehost-a", MigrationParameters.Default with { MaxBandwidth = Sizes.MiB }, MigrationCapabilities.Default);
        await Eventually.Until(() => migration.Status == MigrationStatus.Active, failure: () => $"migration is {migration.Status}");
        migration.Cancel();
        await migration.Finished.WaitAsync(Bound);

        Assert.Equal(MigrationStatus.Cancelled, migration.Status);
        await Eventually.Until(() => !domain.Frozen, failure: () => "the source is still frozen");
        Assert.Same(domain, Driver.GetDomain("sweep-y"));
        Assert.Equal(pid, domain.Process!.Pid);
        await Eventually.Until(() => domain.RunState == RunState.Running, failure: () => $"the source is {domain.RunState}");
        Assert.False(Emulator.IsNameTaken("sweep-y"));
    }

    [Fact]
    public async Task FromQemu_PostcopyRamSetButNotStarted_CompletesInPrecopy()
    {
        var domain = (QemuDomain)await Driver.CreateVirtualMachineAsync(new VmDefinition("sweep-p", "qhost-a", "pc", 32 * Sizes.MiB) { Guest = GuestProgram.Sweep, Start = true });
        await Eventually.UntilAsync(async () => (await domain.ReadGuestPhysicalAsync(SweepGuest.LowestStart, 1))[0] != 0, Bound, () => "the sweep guest never ran");

        // The source opens the return path and advises postcopy: the console answers PING and SHUT, takes the advice.
        var migration = await Cross.MigrateFromQemuAsync("sweep-p", "ehost-a", MigrationParameters.Default with { MaxBandwidth = 1L << 30 }, MigrationCapabilities.Default with { PostcopyRam = true });
        await migration.Finished.WaitAsync(Bound);

        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        Assert.True(migration.Capabilities.PostcopyRam);
        Assert.Equal("ehost-a", Emulator.GetVm("sweep-p").Host.Name);
    }
}
