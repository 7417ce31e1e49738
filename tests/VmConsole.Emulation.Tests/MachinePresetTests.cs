using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Machines;
using VmConsole.Emulation.Vms;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

public sealed class MachinePresetTests
{
    /// <summary>One row of QEMU 7.2's <c>info ramblock</c> plus flags, as DESIGN.md section 2 gives it.</summary>
    public sealed record Layout(string IdStr, long Used, long Max, bool Resizeable, bool Migratable, bool ReadOnly);

    private static Layout Row(RamBlock b) => new(b.IdStr, b.UsedLength, b.MaxLength, b.Resizeable, b.Migratable, b.ReadOnly);

    [Fact]
    public void CreateVm_Microvm16M_QemuLayout()
    {
        using var test = new TestEmulator();

        var vm = test.Emulator.CreateVm(TestEmulator.Definition("micro", "microvm", 16 * MiB));

        Layout[] expected =
        [
            new("microvm.ram", 16 * MiB, 16 * MiB, Resizeable: false, Migratable: true, ReadOnly: false),
            new("/rom@etc/acpi/tables", 4 * KiB, 2 * MiB, Resizeable: true, Migratable: true, ReadOnly: true),
            new("pc.bios", 64 * KiB, 64 * KiB, Resizeable: false, Migratable: true, ReadOnly: true),
            new("/rom@etc/table-loader", 4 * KiB, 64 * KiB, Resizeable: true, Migratable: true, ReadOnly: true),
            new("/rom@etc/acpi/rsdp", 4 * KiB, 4 * KiB, Resizeable: false, Migratable: true, ReadOnly: true),
        ];
        Assert.Equal(expected, vm.RamBlocks.Select(Row));
    }

    [Theory]
    [InlineData("q35")]
    [InlineData("pc")]
    public void CreateVm_PcMachine512M_QemuLayout(string machine)
    {
        using var test = new TestEmulator();

        var vm = test.Emulator.CreateVm(TestEmulator.Definition("pcvm", machine, 512 * MiB));

        Layout[] expected =
        [
            new("pc.ram", 512 * MiB, 512 * MiB, Resizeable: false, Migratable: true, ReadOnly: false),
            new("/rom@etc/acpi/tables", 128 * KiB, 2 * MiB, Resizeable: true, Migratable: true, ReadOnly: true),
            new("pc.bios", 256 * KiB, 256 * KiB, Resizeable: false, Migratable: true, ReadOnly: true),
            new("pc.rom", 128 * KiB, 128 * KiB, Resizeable: false, Migratable: true, ReadOnly: true),
            new("/rom@etc/table-loader", 4 * KiB, 64 * KiB, Resizeable: true, Migratable: true, ReadOnly: true),
            new("/rom@etc/acpi/rsdp", 4 * KiB, 4 * KiB, Resizeable: false, Migratable: true, ReadOnly: true),
        ];
        Assert.Equal(expected, vm.RamBlocks.Select(Row));
        Assert.Equal(machine, vm.Machine.Name);
    }

    [Theory]
    [InlineData("microvm", 16)]
    [InlineData("microvm", 100)]
    [InlineData("q35", 2)] // ties with the 2 MiB ACPI tables: creation order keeps pc.ram first
    [InlineData("q35", 3 * 1024)]
    [InlineData("pc", 1536)]
    public void CreateVm_AnyMemorySize_MainRamSizedToRequestAndListedFirst(string machine, long mebibytes)
    {
        using var test = new TestEmulator();

        var vm = test.Emulator.CreateVm(TestEmulator.Definition("sized", machine, mebibytes * MiB));

        Assert.Same(vm.MainRam, vm.RamBlocks[0]);
        Assert.Equal(mebibytes * MiB, vm.MainRam.UsedLength);
        Assert.Equal(mebibytes * MiB, vm.MainRam.MaxLength);
        Assert.Equal(vm.Machine.MainRamIdStr, vm.MainRam.IdStr);
        Assert.Equal(0, vm.MainRam.GuestAddress);
    }

    [Fact]
    public void CreateVm_Q35With1MiB_BlocksStillOrderedLargestMaxLengthFirst()
    {
        using var test = new TestEmulator();

        // 1 MiB of RAM is smaller than the 2 MiB of /rom@etc/acpi/tables, which then comes first, as in QEMU.
        var vm = test.CreateQ35(memoryBytes: 1 * MiB);

        var maxLengths = vm.RamBlocks.Select(b => b.MaxLength).ToList();
        Assert.Equal(maxLengths.OrderByDescending(m => m), maxLengths);
        Assert.Equal("/rom@etc/acpi/tables", vm.RamBlocks[0].IdStr);
    }

    [Theory]
    [InlineData("microvm", 16)]
    [InlineData("q35", 512)]
    public void CreateVm_AnyPreset_EveryBlockUses4KiBPagesAndDistinctAlignedOffsets(string machine, long mebibytes)
    {
        using var test = new TestEmulator();

        var vm = test.Emulator.CreateVm(TestEmulator.Definition("vm1", machine, mebibytes * MiB));

        Assert.All(vm.RamBlocks, b => Assert.Equal(4096, b.PageSize));
        Assert.All(vm.RamBlocks, b => Assert.Equal(0, b.Offset % RamAddressAllocator.Alignment));
        var sorted = vm.RamBlocks.OrderBy(b => b.Offset).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            Assert.True(sorted[i - 1].Offset + sorted[i - 1].MaxLength <= sorted[i].Offset, $"{sorted[i - 1]} overlaps {sorted[i]}");
        }
    }

    [Fact]
    public void CreateVm_Q35_MigratableSetListsEveryBlockInBlockOrder()
    {
        using var test = new TestEmulator();

        var vm = test.CreateQ35();

        Assert.Equal(
            vm.RamBlocks.Select(b => new MigratableIdentity(b.IdStr, 4096, b.UsedLength, null)),
            vm.MigratableSet);
    }

    [Fact]
    public void CreateVm_Q35_FirmwareGuestAddressesAsOnPc()
    {
        using var test = new TestEmulator();

        var vm = test.CreateQ35();

        Assert.Equal((4 * GiB) - (256 * KiB), vm.RamBlocks.Single(b => b.IdStr == "pc.bios").GuestAddress);
        Assert.Equal(0xC_0000, vm.RamBlocks.Single(b => b.IdStr == "pc.rom").GuestAddress);
        Assert.Null(vm.RamBlocks.Single(b => b.IdStr == "/rom@etc/acpi/tables").GuestAddress);
    }

    [Fact]
    public void CreateVm_Q35_RomsHoldFirmwareThatIsNotZero()
    {
        using var test = new TestEmulator();

        var vm = test.CreateQ35();

        var bios = vm.RamBlocks.Single(b => b.IdStr == "pc.bios");
        var signature = new byte[26];
        bios.Read(0, signature);
        Assert.Equal("VmConsole firmware pc.bios"u8.ToArray(), signature);
    }

    [Fact]
    public void Find_UnknownMachine_InvalidMachine() => Expect.Code("invalid-machine", () => MachinePreset.Find("isapc"));

    [Fact]
    public void CreateVm_Q35_StartsInPrelaunchWithHostReservingEveryMaxLength()
    {
        using var test = new TestEmulator();

        var vm = test.CreateQ35();

        Assert.Equal(RunState.Prelaunch, vm.RunState);
        var expected = (512 * MiB) + (2 * MiB) + (256 * KiB) + (128 * KiB) + (64 * KiB) + (4 * KiB);
        Assert.Equal(expected, vm.ReservedBytes);
        Assert.Equal(expected, test.Host.ReservedBytes);
    }
}
