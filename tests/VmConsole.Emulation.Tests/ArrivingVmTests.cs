using VmConsole.Emulation.Vms;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

/// <summary>A VM arriving from outside the server (QEMU's migrate): listed in inmigrate while it arrives, then a VM, or gone.</summary>
public sealed class ArrivingVmTests : IDisposable
{
    private readonly TestEmulator _test = new();

    private Emulator Emulator => _test.Emulator;

    public void Dispose() => _test.Dispose();

    [Fact]
    public void ReserveArriving_NewName_ListedInMigrateAndRaisesVmArriving()
    {
        var changes = new List<(InventoryChangeKind, string)>();
        Emulator.InventoryChanged += (kind, name) => changes.Add((kind, name));

        var arriving = Emulator.ReserveArriving("live-1", TestEmulator.HostName);

        var listed = Assert.Single(Emulator.Arriving);
        Assert.Same(arriving, listed);
        Assert.Equal(RunState.InMigrate, listed.RunState);
        Assert.Equal(TestEmulator.HostName, listed.Host.Name);
        Assert.Null(listed.Received);
        Assert.True(Emulator.IsNameTaken("live-1"));
        Assert.True(Emulator.TryGetArriving("live-1", out _));
        Assert.False(Emulator.TryGetVm("live-1", out _));
        Assert.Equal([(InventoryChangeKind.VmArriving, "live-1")], changes);
    }

    [Fact]
    public void ReserveArriving_TakenOrInvalidName_Refused()
    {
        _test.CreateQ35("vm1");
        Emulator.ReserveArriving("live-1", TestEmulator.HostName);

        Assert.Equal("vm-exists", Assert.Throws<DomainException>(() => Emulator.ReserveArriving("vm1", TestEmulator.HostName)).Code);
        Assert.Equal("vm-exists", Assert.Throws<DomainException>(() => Emulator.ReserveArriving("live-1", TestEmulator.HostName)).Code);
        Assert.Equal("host-not-found", Assert.Throws<DomainException>(() => Emulator.ReserveArriving("live-2", "nope")).Code);
        Assert.Equal(ErrorKind.Invalid, Assert.Throws<DomainException>(() => Emulator.ReserveArriving("Bad Name", TestEmulator.HostName)).Kind);
        Assert.Single(Emulator.Arriving);
    }

    [Fact]
    public async Task GetVm_Arriving_Is409VmInmigrateForEveryAction()
    {
        Emulator.ReserveArriving("live-1", TestEmulator.HostName);

        var refused = Assert.Throws<DomainException>(() => Emulator.GetVm("live-1"));
        Assert.Equal(ErrorKind.Conflict, refused.Kind);
        Assert.Equal("vm-inmigrate", refused.Code);
        Assert.Contains("live-1", refused.Message, StringComparison.Ordinal);
        Assert.Equal("vm-inmigrate", (await Assert.ThrowsAsync<DomainException>(() => Emulator.DeleteVmAsync("live-1"))).Code);
        Assert.Equal("vm-exists", Assert.Throws<DomainException>(() => _test.CreateQ35("live-1")).Code);
        Assert.Equal("vm-not-found", Assert.Throws<DomainException>(() => Emulator.GetVm("other")).Code);
    }

    [Fact]
    public void AttachReceived_RamSetupMadeTheVm_ShownAsWhatArrivesButNotInTheInventory()
    {
        var arriving = Emulator.ReserveArriving("live-1", TestEmulator.HostName);
        var changes = new List<(InventoryChangeKind, string)>();
        Emulator.InventoryChanged += (kind, name) => changes.Add((kind, name));
        var vm = Emulator.CreateIncomingVm(new VmDefinition("live-1", TestEmulator.HostName, "microvm", 16 * MiB) { Id = arriving.Id });

        Emulator.AttachReceived(arriving, vm);

        Assert.Same(vm, arriving.Received);
        Assert.Contains(vm.RamBlocks, b => b.IdStr == "microvm.ram");
        Assert.Empty(Emulator.Vms);
        Assert.Equal([(InventoryChangeKind.VmArriving, "live-1")], changes);
        var other = Emulator.CreateIncomingVm(new VmDefinition("other", TestEmulator.HostName, "microvm", 16 * MiB));
        Assert.Throws<InvalidOperationException>(() => Emulator.AttachReceived(arriving, other));
        Emulator.DiscardIncoming(other);
    }

    [Fact]
    public void CommitIncoming_WithTheArrivingVm_TakesOverTheNameAndRaisesVmAdded()
    {
        var arriving = Emulator.ReserveArriving("live-1", TestEmulator.HostName);
        var vm = Emulator.CreateIncomingVm(new VmDefinition("live-1", TestEmulator.HostName, "microvm", 16 * MiB) { Id = arriving.Id });
        Emulator.AttachReceived(arriving, vm);
        var changes = new List<(InventoryChangeKind, string)>();
        Emulator.InventoryChanged += (kind, name) => changes.Add((kind, name));

        Emulator.CommitIncoming(vm, arriving);

        Assert.Same(vm, Emulator.GetVm("live-1"));
        Assert.Equal(arriving.Id, vm.Id);
        Assert.Empty(Emulator.Arriving);
        Assert.Equal([(InventoryChangeKind.VmAdded, "live-1")], changes);
    }

    [Fact]
    public void CommitIncoming_NameHeldByAnArrivingVm_RefusedWithoutIt()
    {
        Emulator.ReserveArriving("live-1", TestEmulator.HostName);
        var imported = Emulator.CreateIncomingVm(new VmDefinition("live-1", TestEmulator.HostName, "microvm", 16 * MiB));

        Assert.Equal("vm-exists", Assert.Throws<DomainException>(() => Emulator.CommitIncoming(imported)).Code);
        Emulator.DiscardIncoming(imported);
        Assert.False(Emulator.TryGetVm("live-1", out _));
    }

    [Fact]
    public async Task ReleaseArriving_FailedOrCancelled_GoneAndNameFreeAgain()
    {
        var arriving = Emulator.ReserveArriving("live-1", TestEmulator.HostName);
        var changes = new List<(InventoryChangeKind, string)>();
        Emulator.InventoryChanged += (kind, name) => changes.Add((kind, name));

        Emulator.ReleaseArriving(arriving);
        Emulator.ReleaseArriving(arriving);

        Assert.Empty(Emulator.Arriving);
        Assert.False(Emulator.IsNameTaken("live-1"));
        Assert.Equal([(InventoryChangeKind.VmRemoved, "live-1")], changes);
        Assert.Equal("live-1", _test.CreateQ35("live-1").Name);

        // A later arrival under the same name is not released by the old one.
        await Emulator.DeleteVmAsync("live-1");
        var again = Emulator.ReserveArriving("live-1", TestEmulator.HostName);
        Emulator.ReleaseArriving(arriving);
        Assert.Same(again, Assert.Single(Emulator.Arriving));
    }
}
