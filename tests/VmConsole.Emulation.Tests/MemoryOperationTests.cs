using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Vms;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

public sealed class MemoryOperationTests : IDisposable
{
    private readonly TestEmulator _test = new();

    public void Dispose() => _test.Dispose();

    private static RamBlock Block(Vm vm, string displayName) => vm.RamBlocks.Single(b => b.DisplayName == displayName);

    private static long[] DirtyPages(RamBlock block)
    {
        var words = new ulong[DirtyBitmapWords(block)];
        block.DirtyLog.SyncInto(words);
        var pages = new List<long>();
        for (long page = 0; page < block.DirtyLog.PageCount; page++)
        {
            if ((words[page >> 6] & (1UL << (int)(page & 63))) != 0)
            {
                pages.Add(page);
            }
        }

        return [.. pages];
    }

    private static int DirtyBitmapWords(RamBlock block) => Memory.DirtyBitmap.WordsFor(block.DirtyLog.PageCount);

    // ---- AddMemoryBackend -------------------------------------------------------------------------

    [Fact]
    public void AddMemoryBackend_Valid_NonMigratableInvisibleBlockNamedByBackend()
    {
        var vm = _test.CreateHotplugQ35();
        var reserved = _test.Host.ReservedBytes;
        var changes = new List<VmChangeKind>();
        vm.Changed += (_, kind) => changes.Add(kind);

        var block = vm.AddMemoryBackend("mem0", 64 * MiB);

        Assert.Equal("", block.IdStr);
        Assert.Equal("mem0", block.BackendId);
        Assert.Equal("mem0", block.DisplayName);
        Assert.False(block.Migratable);
        Assert.False(block.GuestVisible);
        Assert.Null(block.Identity);
        Assert.Equal(64 * MiB, block.UsedLength);
        Assert.Equal(64 * MiB, block.MaxLength);
        Assert.Contains(block, vm.RamBlocks);
        Assert.DoesNotContain(vm.MigratableSet, id => id.IdStr == "mem0");
        Assert.Equal(reserved + (64 * MiB), _test.Host.ReservedBytes);
        Assert.Equal([VmChangeKind.RamBlocks], changes);
    }

    [Fact]
    public void AddMemoryBackend_SameIdTwice_BackendExists()
    {
        var vm = _test.CreateHotplugQ35();
        vm.AddMemoryBackend("mem0", 4 * MiB);
        var reserved = _test.Host.ReservedBytes;

        Expect.Code("backend-exists", () => vm.AddMemoryBackend("mem0", 8 * MiB));

        Assert.Equal(reserved, _test.Host.ReservedBytes);
        Assert.Single(vm.RamBlocks, b => b.BackendId == "mem0");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-4096)]
    [InlineData(1000)]
    [InlineData(4097)]
    [InlineData((1024 * GiB) + 4096)]
    public void AddMemoryBackend_BadSize_InvalidSize(long size)
    {
        var vm = _test.CreateHotplugQ35();

        Expect.Code("invalid-size", () => vm.AddMemoryBackend("mem0", size));

        Assert.DoesNotContain(vm.RamBlocks, b => b.BackendId == "mem0");
    }

    [Theory]
    [InlineData("")]
    [InlineData("0mem")]
    [InlineData("-mem")]
    [InlineData("mem/0")]
    [InlineData("mem 0")]
    [InlineData("mém")]
    [InlineData("mem0\n")]
    [InlineData("m234567890123456789012345678901234567890123456789012345678901234")] // 64 characters
    public void AddMemoryBackend_BadId_InvalidId(string id)
    {
        var vm = _test.CreateHotplugQ35();

        Expect.Code("invalid-id", () => vm.AddMemoryBackend(id, 4 * MiB));
    }

    [Theory]
    [InlineData("m")]
    [InlineData("Mem_0.a-b")]
    [InlineData("m23456789012345678901234567890123456789012345678901234567890123")] // 63 characters
    public void AddMemoryBackend_QemuStyleId_Accepted(string id)
    {
        var vm = _test.CreateHotplugQ35();

        Assert.Equal(id, vm.AddMemoryBackend(id, 4 * MiB).BackendId);
    }

    [Fact]
    public void AddMemoryBackend_BeyondHostCapacity_HostCapacityAndNothingAdded()
    {
        using var small = new TestEmulator(capacityBytes: GiB);
        var vm = small.CreateQ35(slots: 2, maxMemBytes: 2 * GiB);
        var reserved = small.Host.ReservedBytes;

        Expect.Code("host-capacity", () => vm.AddMemoryBackend("mem0", 512 * MiB));

        Assert.Equal(reserved, small.Host.ReservedBytes);
        Assert.DoesNotContain(vm.RamBlocks, b => b.BackendId == "mem0");
    }

    // ---- PlugDimm -------------------------------------------------------------------------------

    [Fact]
    public void PlugDimm_FreeBackend_BlockBecomesMigratableAndGuestVisibleUnderBackendId()
    {
        var vm = _test.CreateHotplugQ35();
        var block = vm.AddMemoryBackend("mem0", 128 * MiB);

        var device = vm.PlugDimm("dimm0", "mem0");

        Assert.Equal(new MemoryDevice("dimm0", "pc-dimm", "mem0", 0, 4 * GiB, 128 * MiB), device);
        Assert.Equal("mem0", block.IdStr);
        Assert.True(block.Migratable);
        Assert.Equal(4 * GiB, block.GuestAddress);
        Assert.Equal(device, Assert.Single(vm.Devices));
        Assert.Contains(new MigratableIdentity("mem0", 4096, 128 * MiB, null), vm.MigratableSet);
        Assert.Same(block, vm.FindMigratable("mem0"));
    }

    [Fact]
    public void PlugDimm_SeveralDevices_LowestFreeSlotAndNonOverlappingAddresses()
    {
        var vm = _test.CreateHotplugQ35();
        vm.AddMemoryBackend("mem0", 128 * MiB);
        vm.AddMemoryBackend("mem1", 64 * MiB);
        vm.AddMemoryBackend("mem2", 32 * MiB);

        var d0 = vm.PlugDimm("d0", "mem0");
        var d1 = vm.PlugDimm("d1", "mem1");
        vm.UnplugDimm("d0");
        var d2 = vm.PlugDimm("d2", "mem2");

        Assert.Equal((0, 1, 0), (d0.Slot, d1.Slot, d2.Slot));
        Assert.Equal(4 * GiB, d0.Address);
        Assert.Equal((4 * GiB) + (128 * MiB), d1.Address);

        // The freed hole at 4 GiB takes the smaller device again.
        Assert.Equal(4 * GiB, d2.Address);
        Assert.Equal(["d2", "d1"], vm.Devices.Select(d => d.Id));
    }

    [Fact]
    public void PlugDimm_AllSlotsUsed_NoFreeSlot()
    {
        var vm = _test.CreateQ35(slots: 2, maxMemBytes: 2 * GiB);
        for (var i = 0; i < 3; i++)
        {
            vm.AddMemoryBackend($"mem{i}", 4 * MiB);
        }

        vm.PlugDimm("d0", "mem0");
        vm.PlugDimm("d1", "mem1");

        Expect.Code("no-free-slot", () => vm.PlugDimm("d2", "mem2"));
        Assert.False(Block(vm, "mem2").Migratable);
    }

    [Fact]
    public void PlugDimm_BeyondMaxMem_MaxMemExceeded()
    {
        // 512 MiB of RAM and maxmem 1 GiB leave 512 MiB for devices.
        var vm = _test.CreateQ35(slots: 4, maxMemBytes: GiB);
        vm.AddMemoryBackend("mem0", 384 * MiB);
        vm.AddMemoryBackend("mem1", 256 * MiB);
        vm.AddMemoryBackend("mem2", 128 * MiB);
        vm.PlugDimm("d0", "mem0");

        Expect.Code("maxmem-exceeded", () => vm.PlugDimm("d1", "mem1"));

        // Exactly filling the space is fine.
        vm.PlugDimm("d2", "mem2");
        Assert.Equal(2, vm.Devices.Length);
    }

    [Fact]
    public void PlugDimm_BackendAlreadyUsed_BackendInUseWithQemuMessage()
    {
        var vm = _test.CreateHotplugQ35();
        vm.AddMemoryBackend("mem0", 4 * MiB);
        vm.PlugDimm("d0", "mem0");

        var exception = Expect.Code("backend-in-use", () => vm.PlugDimm("d1", "mem0"));

        Assert.Equal("can't use already busy memdev: mem0", exception.Message);
        Assert.Single(vm.Devices);
    }

    [Fact]
    public void PlugDimm_DeviceIdTaken_DeviceExists()
    {
        var vm = _test.CreateHotplugQ35();
        vm.AddMemoryBackend("mem0", 4 * MiB);
        vm.AddMemoryBackend("mem1", 4 * MiB);
        vm.PlugDimm("d0", "mem0");

        Expect.Code("device-exists", () => vm.PlugDimm("d0", "mem1"));

        Assert.False(Block(vm, "mem1").Migratable);
    }

    [Fact]
    public void PlugDimm_Microvm_HotplugUnsupported()
    {
        var vm = _test.Emulator.CreateVm(TestEmulator.Definition("micro", "microvm", 16 * MiB));
        vm.AddMemoryBackend("mem0", 4 * MiB);

        Expect.Code("hotplug-unsupported", () => vm.PlugDimm("d0", "mem0"));
    }

    [Fact]
    public void PlugDimm_VmWithoutSlots_NoSlots()
    {
        var vm = _test.CreateQ35();
        vm.AddMemoryBackend("mem0", 4 * MiB);

        Expect.Code("no-slots", () => vm.PlugDimm("d0", "mem0"));
    }

    [Fact]
    public void PlugDimm_UnknownBackend_BackendNotFound()
    {
        var vm = _test.CreateHotplugQ35();

        var exception = Expect.Code("backend-not-found", () => vm.PlugDimm("d0", "nope"));

        Assert.Equal(ErrorKind.NotFound, exception.Kind);
    }

    [Fact]
    public void PlugDimm_BadDeviceId_InvalidId()
    {
        var vm = _test.CreateHotplugQ35();
        vm.AddMemoryBackend("mem0", 4 * MiB);

        Expect.Code("invalid-id", () => vm.PlugDimm("1dimm", "mem0"));
    }

    [Fact]
    public void PlugDimm_BackendNamedLikeMachineBlock_DuplicateIdStr()
    {
        var vm = _test.CreateHotplugQ35();
        vm.AddMemoryBackend("pc.rom", 4 * MiB);

        Expect.Code("duplicate-idstr", () => vm.PlugDimm("d0", "pc.rom"));

        Assert.Empty(vm.Devices);
    }

    // ---- UnplugDimm -----------------------------------------------------------------------------

    [Fact]
    public void UnplugDimm_Plugged_BlockBackToUnregisteredBackend()
    {
        var vm = _test.CreateHotplugQ35();
        var block = vm.AddMemoryBackend("mem0", 4 * MiB);
        vm.PlugDimm("d0", "mem0");
        var setBefore = vm.MigratableSet;

        vm.UnplugDimm("d0");

        Assert.Empty(vm.Devices);
        Assert.Equal("", block.IdStr);
        Assert.False(block.Migratable);
        Assert.False(block.GuestVisible);
        Assert.Equal("mem0", block.DisplayName);
        Assert.Contains(block, vm.RamBlocks);
        Assert.Equal(setBefore.Length - 1, vm.MigratableSet.Length);
    }

    [Fact]
    public void UnplugDimm_UnknownDevice_DeviceNotFound()
    {
        var vm = _test.CreateHotplugQ35();

        Expect.Code("device-not-found", () => vm.UnplugDimm("d0"));
        Expect.Code("device-not-found", () => vm.UnplugDimm(null!));
    }

    // ---- FreeBlock ------------------------------------------------------------------------------

    [Theory]
    [InlineData("pc.ram")]
    [InlineData("pc.bios")]
    [InlineData("/rom@etc/acpi/tables")]
    public void FreeBlock_MachineBlock_MachineBlock(string idStr)
    {
        var vm = _test.CreateQ35();

        Expect.Code("machine-block", () => vm.FreeBlock(Block(vm, idStr).Id));

        Assert.Contains(vm.RamBlocks, b => b.IdStr == idStr);
    }

    [Fact]
    public void FreeBlock_BackendUsedByDimm_BackendInUseWithQemuMessage()
    {
        var vm = _test.CreateHotplugQ35();
        var block = vm.AddMemoryBackend("mem1", 4 * MiB);
        vm.PlugDimm("d0", "mem1");

        var exception = Expect.Code("backend-in-use", () => vm.FreeBlock(block.Id));

        Assert.Equal("object 'mem1' is in use, can not be deleted", exception.Message);
        Assert.Contains(block, vm.RamBlocks);
    }

    [Fact]
    public void FreeBlock_UnusedBackend_RemovedAndHostReservationReleased()
    {
        var vm = _test.CreateHotplugQ35();
        var reserved = _test.Host.ReservedBytes;
        var block = vm.AddMemoryBackend("mem0", 64 * MiB);
        block.Write(0, [1, 2, 3]);

        vm.FreeBlock(block.Id);

        Assert.DoesNotContain(block, vm.RamBlocks);
        Assert.Equal(reserved, _test.Host.ReservedBytes);
        Assert.True(block.Memory.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => block.Read(0, new byte[3]));
        Expect.Code("block-not-found", () => vm.FreeBlock(block.Id));
        Expect.Code("block-not-found", () => vm.GetBlock(block.Id));
    }

    [Fact]
    public void FreeBlock_UnpluggedBackend_CanBeAddedAgainWithSameId()
    {
        var vm = _test.CreateHotplugQ35();
        var block = vm.AddMemoryBackend("mem0", 4 * MiB);
        vm.PlugDimm("d0", "mem0");
        vm.UnplugDimm("d0");

        vm.FreeBlock(block.Id);
        var again = vm.AddMemoryBackend("mem0", 8 * MiB);

        Assert.NotEqual(block.Id, again.Id);
        Assert.Equal(8 * MiB, again.UsedLength);
    }

    // ---- SetMigratable --------------------------------------------------------------------------

    [Fact]
    public void SetMigratable_UnregisteredBackend_TakesBackendIdAsIdStr()
    {
        var vm = _test.CreateHotplugQ35();
        var block = vm.AddMemoryBackend("mem0", 4 * MiB);

        vm.SetMigratable(block.Id, true);

        Assert.Equal("mem0", block.IdStr);
        Assert.True(block.Migratable);
        Assert.False(block.GuestVisible);
        Assert.Contains(new MigratableIdentity("mem0", 4096, 4 * MiB, null), vm.MigratableSet);
    }

    [Fact]
    public void SetMigratable_UnsetOnMachineBlock_LeavesTheSetKeepsIdStr()
    {
        var vm = _test.CreateQ35();
        var rom = Block(vm, "pc.rom");

        vm.SetMigratable(rom.Id, false);

        Assert.False(rom.Migratable);
        Assert.Equal("pc.rom", rom.IdStr);
        Assert.DoesNotContain(vm.MigratableSet, id => id.IdStr == "pc.rom");
        Assert.Null(vm.FindMigratable("pc.rom"));

        vm.SetMigratable(rom.Id, true);
        Assert.Contains(vm.MigratableSet, id => id.IdStr == "pc.rom");
    }

    [Fact]
    public void SetMigratable_IdStrAlreadyMigratable_DuplicateIdStr()
    {
        var vm = _test.CreateHotplugQ35();
        var backend = vm.AddMemoryBackend("pc.rom", 4 * MiB);

        Expect.Code("duplicate-idstr", () => vm.SetMigratable(backend.Id, true));
        Assert.False(backend.Migratable);

        // Once the machine's pc.rom leaves the set, the name is free; then the machine block cannot come back.
        var rom = vm.RamBlocks.Single(b => b.IdStr == "pc.rom" && b.BackendId is null);
        vm.SetMigratable(rom.Id, false);
        vm.SetMigratable(backend.Id, true);
        Expect.Code("duplicate-idstr", () => vm.SetMigratable(rom.Id, true));
        Assert.Single(vm.MigratableSet, id => id.IdStr == "pc.rom");
    }

    [Fact]
    public void SetMigratable_UnknownBlock_BlockNotFound()
    {
        var vm = _test.CreateQ35();

        Expect.Code("block-not-found", () => vm.SetMigratable(999, true));
    }

    // ---- Resize ---------------------------------------------------------------------------------

    [Fact]
    public void Resize_PcRam_NotResizeable()
    {
        var vm = _test.CreateQ35();

        Expect.Code("not-resizeable", () => vm.Resize(vm.MainRam.Id, 256 * MiB));

        Assert.Equal(512 * MiB, vm.MainRam.UsedLength);
    }

    [Fact]
    public void Resize_AcpiTables_NewLengthInSetAndRangeDirty()
    {
        var vm = _test.CreateQ35();
        var tables = Block(vm, "/rom@etc/acpi/tables");
        DirtyPages(tables);

        vm.Resize(tables.Id, 256 * KiB);

        Assert.Equal(256 * KiB, tables.UsedLength);
        Assert.Contains(new MigratableIdentity("/rom@etc/acpi/tables", 4096, 256 * KiB, null), vm.MigratableSet);
        Assert.Equal(Enumerable.Range(0, 64).Select(p => (long)p), DirtyPages(tables));
    }

    [Theory]
    [InlineData((2 * MiB) + 4096, "used-length-exceeds-max")]
    [InlineData(4 * MiB, "used-length-exceeds-max")]
    [InlineData(0, "invalid-used-length")]
    [InlineData(-4096, "invalid-used-length")]
    [InlineData(5000, "unaligned-used-length")]
    public void Resize_AcpiTablesBadLength_RefusedAndUnchanged(long usedLength, string code)
    {
        var vm = _test.CreateQ35();
        var tables = Block(vm, "/rom@etc/acpi/tables");

        Expect.Code(code, () => vm.Resize(tables.Id, usedLength));

        Assert.Equal(128 * KiB, tables.UsedLength);
    }

    [Fact]
    public void Resize_UpToMaxLength_Accepted()
    {
        var vm = _test.CreateQ35();
        var loader = Block(vm, "/rom@etc/table-loader");

        vm.Resize(loader.Id, 64 * KiB);

        Assert.Equal(64 * KiB, loader.UsedLength);
        loader.Read((64 * KiB) - 1, new byte[1]);
        Expect.Code("out-of-range", () => loader.Read(64 * KiB, new byte[1]));
    }

    // ---- ReloadRom ------------------------------------------------------------------------------

    [Fact]
    public void ReloadRom_PcRam_NotRom()
    {
        var vm = _test.CreateQ35();

        Expect.Code("not-rom", () => vm.ReloadRom(vm.MainRam.Id));
    }

    [Theory]
    [InlineData("pc.bios")]
    [InlineData("/rom@etc/acpi/tables")]
    public void ReloadRom_Rom_SameContentsFreshBackingEveryPageDirty(string idStr)
    {
        var vm = _test.CreateQ35();
        var rom = Block(vm, idStr);
        var before = new byte[rom.UsedLength];
        rom.Read(0, before);
        var oldMemory = rom.Memory;
        DirtyPages(rom);

        vm.ReloadRom(rom.Id);

        var after = new byte[rom.UsedLength];
        rom.Read(0, after);
        Assert.Equal(before, after);
        Assert.Contains(before, b => b != 0);
        Assert.NotSame(oldMemory, rom.Memory);
        Assert.True(oldMemory.IsDisposed);
        Assert.Equal(Enumerable.Range(0, (int)rom.UsedPages).Select(p => (long)p), DirtyPages(rom));
        Assert.Equal(rom.Identity, vm.MigratableSet.Single(id => id.IdStr == idStr));
    }

    [Fact]
    public void ReloadRom_RomOverwrittenByHost_RestoresFirmware()
    {
        var vm = _test.CreateQ35();
        var rom = Block(vm, "pc.rom");
        var firmware = new byte[rom.UsedLength];
        rom.Read(0, firmware);
        rom.Write(0, new byte[4096]);

        vm.ReloadRom(rom.Id);

        var after = new byte[rom.UsedLength];
        rom.Read(0, after);
        Assert.Equal(firmware, after);
    }
}
