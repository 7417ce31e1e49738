using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Memory;
using VmConsole.Emulation.Vms;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

public sealed class GuestMemoryTests : IDisposable
{
    private readonly TestEmulator _test = new();

    public void Dispose() => _test.Dispose();

    private static RamBlock Block(Vm vm, string displayName) => vm.RamBlocks.Single(b => b.DisplayName == displayName);

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    // ---- block offsets --------------------------------------------------------------------------

    [Fact]
    public void RamBlock_WriteThenRead_SameBytesAndPagesDirty()
    {
        var vm = _test.CreateQ35();
        var data = Pattern(10_000, 1);

        vm.MainRam.Write((5 * 4096) + 100, data);

        var read = new byte[data.Length];
        vm.MainRam.Read((5 * 4096) + 100, read);
        Assert.Equal(data, read);
        Assert.Equal(3, vm.MainRam.DirtyLog.CountSet()); // pages 5, 6 and 7
        Assert.True(vm.MainRam.DirtyLog.IsSet(5) && vm.MainRam.DirtyLog.IsSet(7));
    }

    [Fact]
    public void RamBlock_UntouchedMemory_ReadsZero()
    {
        var vm = _test.CreateQ35();
        var read = Pattern(64 * 1024, 2);

        vm.MainRam.Read(300 * MiB, read);

        Assert.All(read, b => Assert.Equal(0, b));
        Assert.Equal(0, vm.MainRam.DirtyLog.CountSet());
    }

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(512 * MiB, 1)]
    [InlineData((512 * MiB) - 1, 2)]
    public void RamBlock_OutsideUsedLength_OutOfRange(long offset, int length)
    {
        var vm = _test.CreateQ35();

        Expect.Code("out-of-range", () => vm.MainRam.Write(offset, new byte[length]));
        Expect.Code("out-of-range", () => vm.MainRam.Read(offset, new byte[length]));
    }

    [Fact]
    public void RamBlock_BetweenUsedAndMaxLength_OutOfRange()
    {
        var vm = _test.CreateQ35();
        var tables = Block(vm, "/rom@etc/acpi/tables");

        Expect.Code("out-of-range", () => tables.Read(128 * KiB, new byte[1]));
    }

    // ---- guest-physical addresses -----------------------------------------------------------------

    [Fact]
    public void WriteGuest_LowRam_LandsAtSameOffsetInMainRam()
    {
        var vm = _test.CreateQ35();
        var data = Pattern(8192, 3);

        vm.WriteGuest(0x123_4000, data);

        var viaBlock = new byte[data.Length];
        vm.MainRam.Read(0x123_4000, viaBlock);
        Assert.Equal(data, viaBlock);
        var viaGuest = new byte[data.Length];
        vm.ReadGuest(0x123_4000, viaGuest);
        Assert.Equal(data, viaGuest);
    }

    [Fact]
    public void WriteGuest_Q35Above275GiB_RamSplitsAt2GiBAndResumesAt4GiB()
    {
        var vm = _test.CreateQ35(memoryBytes: 3 * GiB);
        var high = Pattern(4096, 4);
        var low = Pattern(4096, 5);

        vm.WriteGuest(4 * GiB, high);
        vm.WriteGuest((2 * GiB) - 4096, low);

        var read = new byte[4096];
        vm.MainRam.Read(2 * GiB, read);
        Assert.Equal(high, read);
        vm.MainRam.Read((2 * GiB) - 4096, read);
        Assert.Equal(low, read);
        Expect.Code("unmapped-address", () => vm.ReadGuest(2 * GiB, new byte[1]));
        Expect.Code("unmapped-address", () => vm.ReadGuest(5 * GiB, new byte[1]));
        vm.ReadGuest((5 * GiB) - 1, new byte[1]);
    }

    [Fact]
    public void WriteGuest_Q35Below275GiB_AllRamBelow4GiB()
    {
        var vm = _test.CreateQ35(memoryBytes: 2560 * MiB);
        var data = Pattern(4096, 6);

        vm.WriteGuest((2560 * MiB) - 4096, data);

        var read = new byte[4096];
        vm.MainRam.Read((2560 * MiB) - 4096, read);
        Assert.Equal(data, read);
        Expect.Code("unmapped-address", () => vm.ReadGuest(4 * GiB, new byte[1]));
    }

    [Fact]
    public void WriteGuest_AcrossTheHighRamBoundary_SplitsOverBothMappings()
    {
        var vm = _test.CreateQ35(memoryBytes: 3 * GiB);

        // The last page of high RAM is followed by nothing: a write running past it fails.
        Expect.Code("unmapped-address", () => vm.WriteGuest((5 * GiB) - 2, new byte[4]));
    }

    [Fact]
    public void WriteGuest_Dimm_ReadsBackThroughGuestAndBlock()
    {
        var vm = _test.CreateHotplugQ35();
        var block = vm.AddMemoryBackend("mem0", 64 * MiB);
        var device = vm.PlugDimm("d0", "mem0");
        var data = Pattern(12_345, 7);

        vm.WriteGuest(device.Address + (10 * MiB), data);

        var viaGuest = new byte[data.Length];
        vm.ReadGuest(device.Address + (10 * MiB), viaGuest);
        Assert.Equal(data, viaGuest);
        var viaBlock = new byte[data.Length];
        block.Read(10 * MiB, viaBlock);
        Assert.Equal(data, viaBlock);
        Assert.True(block.DirtyLog.IsSet((10 * MiB) / 4096));
    }

    [Fact]
    public void ReadGuest_UnpluggedDimm_UnmappedAddress()
    {
        var vm = _test.CreateHotplugQ35();
        vm.AddMemoryBackend("mem0", 64 * MiB);
        var device = vm.PlugDimm("d0", "mem0");

        vm.UnplugDimm("d0");

        Expect.Code("unmapped-address", () => vm.ReadGuest(device.Address, new byte[1]));
    }

    [Fact]
    public void WriteGuest_PcBios_DiscardedAndNotDirty()
    {
        var vm = _test.CreateQ35();
        var bios = Block(vm, "pc.bios");
        var address = (4 * GiB) - bios.UsedLength;
        var before = new byte[4096];
        vm.ReadGuest(address, before);
        bios.DirtyLog.SyncAndCount();

        vm.WriteGuest(address, new byte[4096]);

        var after = new byte[4096];
        vm.ReadGuest(address, after);
        Assert.Equal(before, after);
        Assert.Contains(after, b => b != 0);
        Assert.Equal(0, bios.DirtyLog.CountSet());
    }

    [Fact]
    public void WriteGuest_PcRomWindow_RomShadowsRamAndWriteIsDiscarded()
    {
        var vm = _test.CreateQ35();
        var rom = Block(vm, "pc.rom");
        var firmware = new byte[16];
        rom.Read(0, firmware);

        vm.WriteGuest(0xC_0000, Pattern(16, 8));

        var read = new byte[16];
        vm.ReadGuest(0xC_0000, read);
        Assert.Equal(firmware, read);
        vm.MainRam.Read(0xC_0000, read);
        Assert.Equal(new byte[16], read);
    }

    [Fact]
    public void WriteGuest_RunningFromRamIntoRom_RamPartWrittenRomPartDiscarded()
    {
        var vm = _test.CreateQ35();
        var data = Pattern(8192, 9);

        vm.WriteGuest(0xC_0000 - 4096, data);

        var read = new byte[4096];
        vm.MainRam.Read(0xC_0000 - 4096, read);
        Assert.Equal(data[..4096], read);
        vm.MainRam.Read(0xC_0000, read);
        Assert.Equal(new byte[4096], read);
    }

    [Theory]
    [InlineData(0x3000_0000)] // above 512 MiB of RAM
    [InlineData(0xFFFB_FFFF)] // just below pc.bios
    [InlineData(0x1_0000_0000)] // 4 GiB, no high RAM
    [InlineData(-1)]
    public void ReadGuest_UnmappedAddress_UnmappedAddress(long address)
    {
        var vm = _test.CreateQ35();

        var exception = Expect.Code("unmapped-address", () => vm.ReadGuest(address, new byte[1]));
        Expect.Code("unmapped-address", () => vm.WriteGuest(address, new byte[1]));

        Assert.Equal(ErrorKind.Invalid, exception.Kind);
    }

    [Fact]
    public void GuestMappings_Q35With3GiB_RomsThenLowAndHighRam()
    {
        var vm = _test.CreateQ35(memoryBytes: 3 * GiB);

        var ram = vm.GuestMappings.Where(m => m.Block == vm.MainRam).Select(m => (m.Start, m.Length, m.BlockOffset));

        Assert.Equal([(0L, 2 * GiB, 0L), (4 * GiB, GiB, 2 * GiB)], ram);
    }

    // ---- lifetime ---------------------------------------------------------------------------------

    [Fact]
    public void GuestMemory_AfterDispose_EveryAccessThrowsObjectDisposed()
    {
        var memory = new GuestMemory(16 * 4096);
        memory.Write(0, [1]);

        memory.Dispose();

        Assert.True(memory.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => memory.Read(0, new byte[1]));
        Assert.Throws<ObjectDisposedException>(() => memory.Write(0, [1]));
        Assert.Throws<ObjectDisposedException>(() => memory.Acquire());
        Assert.Throws<ObjectDisposedException>(() => memory.Discard(0, 4096));
        memory.Dispose();
    }

    [Fact]
    public void GuestMemoryAccess_HeldAcrossDispose_KeepsMemoryReadableUntilReleased()
    {
        var memory = new GuestMemory(16 * 4096);
        memory.Write(4096, [1, 2, 3, 4]);
        var access = memory.Acquire();

        memory.Dispose();

        Assert.True(memory.IsDisposed);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, access.Span(4096, 4).ToArray());
        access.Span(8192, 2)[0] = 9;
        Assert.Equal(9, access.Span(8192, 1)[0]);
        Assert.Throws<ObjectDisposedException>(() => memory.Read(0, new byte[1]));
        access.Dispose();
        Assert.Throws<ObjectDisposedException>(() => memory.Acquire());
    }

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(16 * 4096, 1)]
    [InlineData((16 * 4096) - 1, 2)]
    public void GuestMemoryAccess_OutsideTheMapping_ArgumentOutOfRange(long offset, int length)
    {
        using var memory = new GuestMemory(16 * 4096);
        using var access = memory.Acquire();

        Assert.Throws<ArgumentOutOfRangeException>(() => access.Span(offset, length));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-4096)]
    [InlineData(4095)]
    public void GuestMemory_SizeNotPositivePages_ArgumentOutOfRange(long size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestMemory(size));

    [Fact]
    public void GuestMemory_Discard_PagesReadZeroAgain()
    {
        using var memory = new GuestMemory(16 * 4096);
        memory.Write(4096, Pattern(8192, 10));
        memory.Write(0, [7]);

        memory.Discard(4096, 8192);

        var read = new byte[8192];
        memory.Read(4096, read);
        Assert.Equal(new byte[8192], read);
        var first = new byte[1];
        memory.Read(0, first);
        Assert.Equal(7, first[0]);
        Assert.Throws<ArgumentException>(() => memory.Discard(100, 4096));
    }

    [Fact]
    public async Task DeletedVm_BlockAccess_ObjectDisposedAndGuestAccessVmNotFound()
    {
        var vm = _test.CreateQ35();
        var ram = vm.MainRam;
        ram.Write(0, [1]);

        await _test.Emulator.DeleteVmAsync(vm.Name);

        Assert.True(ram.Memory.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => ram.Read(0, new byte[1]));
        var error = Assert.Throws<DomainException>(() => vm.ReadGuest(0, new byte[1]));
        Assert.Equal("vm-not-found", error.Code);
    }

    [Fact]
    public async Task DeletedVm_AccessHeldByReader_StillReadableUntilReleased()
    {
        var vm = _test.CreateQ35();
        vm.MainRam.Write(4096, [5, 6]);
        var access = vm.MainRam.Memory.Acquire();

        await _test.Emulator.DeleteVmAsync(vm.Name);

        Assert.Equal(new byte[] { 5, 6 }, access.Span(4096, 2).ToArray());
        access.Dispose();
    }

    // ---- untouched pages --------------------------------------------------------------------------

    [Fact]
    public void TryGetUntouched_FreshWrittenDiscarded_TellsWhichPagesWereNeverBacked()
    {
        using var memory = new GuestMemory(4 * MiB);
        using var access = memory.Acquire();
        Span<ulong> untouched = stackalloc ulong[2];
        if (!access.TryGetUntouched(0, 128, untouched))
        {
            return; // Not Linux, or no /proc/self/pagemap: callers read the bytes instead.
        }

        Assert.Equal(ulong.MaxValue, untouched[0]);
        Assert.Equal(ulong.MaxValue, untouched[1]);

        memory.Write(3 * 4096, [1]);
        memory.Write(70 * 4096, [2]);
        Assert.True(access.TryGetUntouched(0, 128, untouched));
        Assert.Equal(ulong.MaxValue & ~(1UL << 3), untouched[0]);
        Assert.Equal(ulong.MaxValue & ~(1UL << 6), untouched[1]);

        memory.Discard(3 * 4096, 4096);
        Assert.True(access.TryGetUntouched(64 * 4096, 64, untouched[..1]));
        Assert.Equal(ulong.MaxValue & ~(1UL << 6), untouched[0]);
        Assert.True(access.TryGetUntouched(0, 64, untouched[..1]));
        Assert.Equal(ulong.MaxValue, untouched[0]);
    }
}
