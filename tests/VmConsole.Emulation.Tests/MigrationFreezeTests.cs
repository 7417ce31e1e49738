using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

public sealed class MigrationFreezeTests : IDisposable
{
    private const string AcpiTables = "/rom@etc/acpi/tables";

    private readonly TestEmulator _test = new();
    private readonly Vm _vm;

    public MigrationFreezeTests()
    {
        // mem0: a free backend; mem1: plugged as d1; mem2: registered for migration but not plugged.
        _vm = _test.CreateHotplugQ35("frozen");
        _vm.AddMemoryBackend("mem0", 16 * MiB);
        _vm.AddMemoryBackend("mem1", 16 * MiB);
        _vm.PlugDimm("d1", "mem1");
        _vm.SetMigratable(_vm.AddMemoryBackend("mem2", 16 * MiB).Id, true);
    }

    public void Dispose() => _test.Dispose();

    private RamBlock Block(string displayName) => _vm.RamBlocks.Single(b => b.DisplayName == displayName);

    /// <summary>The changes the freeze refuses: what to do, the operation it reports and the block it names.</summary>
    private static readonly Dictionary<string, (Action<MigrationFreezeTests> Change, string Operation, string Block)> Refused = new()
    {
        ["set-migratable"] = (t => t._vm.SetMigratable(t.Block("mem0").Id, true), "set migratable on", "mem0"),
        ["unset-migratable"] = (t => t._vm.SetMigratable(t._vm.MainRam.Id, false), "unset migratable on", "pc.ram"),
        ["free-migratable"] = (t => t._vm.FreeBlock(t.Block("mem2").Id), "free", "mem2"),
        ["plug-dimm"] = (t => t._vm.PlugDimm("d0", "mem0"), "plug a memory device onto", "mem0"),
        ["unplug-dimm"] = (t => t._vm.UnplugDimm("d1"), "unplug the memory device of", "mem1"),
        ["resize-migratable"] = (t => t._vm.Resize(t.Block(AcpiTables).Id, 256 * KiB), "resize", AcpiTables),
    };

    public static TheoryData<string> RefusedChanges() => [.. Refused.Keys];

    [Theory]
    [MemberData(nameof(RefusedChanges))]
    public void Change_WhileLeaseHeld_RefusedWithFrozenErrorNamingBlockOperationAndMigration(string name)
    {
        var (change, operation, block) = Refused[name];
        var holder = new TestLeaseHolder("mig-42") { Status = MigrationStatus.Active };
        var lease = holder.AcquireOn(_vm);
        var blocks = _vm.RamBlocks;
        var devices = _vm.Devices;

        var exception = Assert.Throws<MigratableSetFrozenException>(() => change(this));

        Assert.Equal("migratable-set-frozen", exception.Code);
        Assert.Equal(MigratableSetFrozenException.ErrorCode, exception.Code);
        Assert.Equal(ErrorKind.Conflict, exception.Kind);
        Assert.Equal(operation, exception.Operation);
        Assert.Equal(block, exception.Block);
        Assert.Equal("mig-42", exception.MigrationId);
        Assert.Equal("active", exception.MigrationStatus);
        Assert.Equal("frozen", exception.Vm);
        Assert.Contains($"'{block}'", exception.Message, StringComparison.Ordinal);
        Assert.Contains(operation, exception.Message, StringComparison.Ordinal);
        Assert.Contains("mig-42", exception.Message, StringComparison.Ordinal);
        Assert.Contains("active", exception.Message, StringComparison.Ordinal);

        // Nothing changed.
        Expect.SameItems(lease.MigratableSet, _vm.MigratableSet);
        Expect.SameItems(blocks, _vm.RamBlocks);
        Expect.SameItems(devices, _vm.Devices);
        Assert.Empty(holder.CancelRequests);
    }

    [Theory]
    [MemberData(nameof(RefusedChanges))]
    public void Change_WhileHolderCancelling_StillRefused(string name)
    {
        var (change, _, _) = Refused[name];
        var holder = new TestLeaseHolder("mig-7");
        var lease = holder.AcquireOn(_vm);
        holder.Status = MigrationStatus.Cancelling;

        var exception = Assert.Throws<MigratableSetFrozenException>(() => change(this));

        Assert.Equal("cancelling", exception.MigrationStatus);
        Assert.Contains("cancelling", exception.Message, StringComparison.Ordinal);
        Expect.SameItems(lease.MigratableSet, _vm.MigratableSet);
    }

    [Theory]
    [MemberData(nameof(RefusedChanges))]
    public void Change_AfterLeaseDisposed_Succeeds(string name)
    {
        var (change, _, _) = Refused[name];
        var lease = new TestLeaseHolder().AcquireOn(_vm);
        Assert.Throws<MigratableSetFrozenException>(() => change(this));

        lease.Dispose();
        change(this);

        Expect.DifferentItems(lease.MigratableSet, _vm.MigratableSet);
        Assert.True(lease.Released.IsCompletedSuccessfully);
        Assert.False(_vm.Freeze.IsFrozen);
    }

    [Fact]
    public void Acquire_LeaseSet_EqualsVmMigratableSetAtAcquire()
    {
        var expected = _vm.MigratableSet;

        var lease = new TestLeaseHolder().AcquireOn(_vm);

        Expect.SameItems(expected, lease.MigratableSet);
        Assert.Contains(new MigratableIdentity("pc.ram", 4096, 512 * MiB, null), lease.MigratableSet);
        Assert.Contains(new MigratableIdentity("mem1", 4096, 16 * MiB, null), lease.MigratableSet);
        Assert.Contains(new MigratableIdentity("mem2", 4096, 16 * MiB, null), lease.MigratableSet);
        Assert.DoesNotContain(lease.MigratableSet, id => id.IdStr == "mem0");
        Assert.Same(lease, _vm.Freeze.Lease);
        Assert.True(_vm.Freeze.IsFrozen);
    }

    [Fact]
    public void Acquire_SecondWhileHeld_RefusedAsMigrate()
    {
        var first = new TestLeaseHolder("mig-1").AcquireOn(_vm);

        var exception = Assert.Throws<MigratableSetFrozenException>(() => new TestLeaseHolder("mig-2").AcquireOn(_vm));

        Assert.Equal("migrate", exception.Operation);
        Assert.Null(exception.Block);
        Assert.Equal("mig-1", exception.MigrationId);
        Assert.Contains("mig-1", exception.Message, StringComparison.Ordinal);
        Assert.Same(first, _vm.Freeze.Lease);
    }

    [Fact]
    public void Acquire_AfterRelease_NewLeaseAndStaleDisposeDoesNotReleaseIt()
    {
        var first = new TestLeaseHolder("mig-1").AcquireOn(_vm);
        first.Dispose();

        var second = new TestLeaseHolder("mig-2").AcquireOn(_vm);
        first.Dispose();

        Assert.Same(second, _vm.Freeze.Lease);
        Assert.False(second.Released.IsCompleted);
        Assert.Throws<MigratableSetFrozenException>(() => _vm.SetMigratable(_vm.MainRam.Id, false));
    }

    [Fact]
    public void Acquire_NullHolder_ArgumentNull() => Assert.Throws<ArgumentNullException>(() => _vm.Freeze.Acquire(null!));

    // ---- allowed while frozen ------------------------------------------------------------------------

    [Fact]
    public void AddMemoryBackend_WhileFrozen_Allowed()
    {
        var lease = new TestLeaseHolder().AcquireOn(_vm);

        var block = _vm.AddMemoryBackend("mem9", 8 * MiB);

        Assert.Contains(block, _vm.RamBlocks);
        Expect.SameItems(lease.MigratableSet, _vm.MigratableSet);
    }

    [Fact]
    public void FreeBlock_NonMigratableUnpluggedBackendWhileFrozen_Allowed()
    {
        var lease = new TestLeaseHolder().AcquireOn(_vm);
        var mem0 = Block("mem0");

        _vm.FreeBlock(mem0.Id);

        Assert.DoesNotContain(mem0, _vm.RamBlocks);
        Expect.SameItems(lease.MigratableSet, _vm.MigratableSet);
    }

    [Fact]
    public void FreeBlock_PluggedBackendWhileFrozen_BackendInUseAsQemuSays()
    {
        new TestLeaseHolder().AcquireOn(_vm);

        Expect.Code("backend-in-use", () => _vm.FreeBlock(Block("mem1").Id));
    }

    [Fact]
    public void ReloadRom_WhileFrozen_AllowedAndSetUnchanged()
    {
        var lease = new TestLeaseHolder().AcquireOn(_vm);
        var bios = Block("pc.bios");
        var oldMemory = bios.Memory;

        _vm.ReloadRom(bios.Id);

        Assert.NotSame(oldMemory, bios.Memory);
        Expect.SameItems(lease.MigratableSet, _vm.MigratableSet);
    }

    [Fact]
    public void Reset_WhileFrozen_AllowedAndSetUnchanged()
    {
        _vm.Start();
        var lease = new TestLeaseHolder().AcquireOn(_vm);

        _vm.Reset();

        Expect.SameItems(lease.MigratableSet, _vm.MigratableSet);
    }

    [Fact]
    public void SetMigratable_SameValueWhileFrozen_AllowedNoOp()
    {
        var lease = new TestLeaseHolder().AcquireOn(_vm);

        _vm.SetMigratable(_vm.MainRam.Id, true);
        _vm.SetMigratable(Block("mem0").Id, false);
        _vm.SetMigratable(Block("mem1").Id, true);

        Expect.SameItems(lease.MigratableSet, _vm.MigratableSet);
    }

    [Fact]
    public void Resize_NonMigratableResizeableBlockWhileFrozen_Allowed()
    {
        var tables = Block(AcpiTables);
        _vm.SetMigratable(tables.Id, false);
        var lease = new TestLeaseHolder().AcquireOn(_vm);

        _vm.Resize(tables.Id, 1 * MiB);

        Assert.Equal(1 * MiB, tables.UsedLength);
        Expect.SameItems(lease.MigratableSet, _vm.MigratableSet);
    }

    [Fact]
    public void Resize_MigratableBlockToSameLengthWhileFrozen_AllowedNoOp()
    {
        var tables = Block(AcpiTables);
        var lease = new TestLeaseHolder().AcquireOn(_vm);

        _vm.Resize(tables.Id, tables.UsedLength);

        Expect.SameItems(lease.MigratableSet, _vm.MigratableSet);
    }

    [Fact]
    public void GuestAccess_WhileFrozen_Allowed()
    {
        var lease = new TestLeaseHolder().AcquireOn(_vm);

        _vm.WriteGuest(0x1000, [1, 2]);
        var read = new byte[2];
        _vm.ReadGuest(0x1000, read);

        Assert.Equal(new byte[] { 1, 2 }, read);
        Expect.SameItems(lease.MigratableSet, _vm.MigratableSet);
    }

    // ---- guest-initiated resize -------------------------------------------------------------------

    [Fact]
    public void GuestResize_WhileFrozen_AppliedAndMigrationCancelledWithQemuError()
    {
        var holder = new TestLeaseHolder();
        var lease = holder.AcquireOn(_vm);
        var tables = Block(AcpiTables);

        _vm.GuestResize(tables.Id, 256 * KiB);

        Assert.Equal(256 * KiB, tables.UsedLength);
        Assert.Equal(["RAM block '/rom@etc/acpi/tables' resized during precopy."], holder.CancelRequests);
        Expect.DifferentItems(lease.MigratableSet, _vm.MigratableSet);
    }

    [Fact]
    public void GuestResize_SameLengthWhileFrozen_NoCancel()
    {
        var holder = new TestLeaseHolder();
        holder.AcquireOn(_vm);
        var tables = Block(AcpiTables);

        _vm.GuestResize(tables.Id, tables.UsedLength);

        Assert.Empty(holder.CancelRequests);
    }

    [Fact]
    public void GuestResize_NonMigratableBlockWhileFrozen_NoCancel()
    {
        var tables = Block(AcpiTables);
        _vm.SetMigratable(tables.Id, false);
        var holder = new TestLeaseHolder();
        holder.AcquireOn(_vm);

        _vm.GuestResize(tables.Id, 512 * KiB);

        Assert.Equal(512 * KiB, tables.UsedLength);
        Assert.Empty(holder.CancelRequests);
    }

    [Fact]
    public void GuestResize_HolderReleasesOnCancel_FreezeLifted()
    {
        var holder = new TestLeaseHolder { Behaviour = TestLeaseHolder.OnCancel.ReleaseAtOnce };
        var lease = holder.AcquireOn(_vm);

        _vm.GuestResize(Block(AcpiTables).Id, 1 * MiB);

        Assert.True(lease.Released.IsCompletedSuccessfully);
        Assert.False(_vm.Freeze.IsFrozen);
        _vm.SetMigratable(_vm.MainRam.Id, false);
    }

    [Fact]
    public void GuestResize_BeyondMax_RefusedEvenForTheGuest()
    {
        var holder = new TestLeaseHolder();
        holder.AcquireOn(_vm);

        Expect.Code("used-length-exceeds-max", () => _vm.GuestResize(Block(AcpiTables).Id, 4 * MiB));

        Assert.Empty(holder.CancelRequests);
    }
}
