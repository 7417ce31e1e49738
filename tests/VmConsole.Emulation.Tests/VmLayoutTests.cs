using VmConsole.Emulation.Vms;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

/// <summary>A VM's RAM layout: main RAM under a memory-backend's name, NUMA nodes on their memdevs, and the checks QEMU makes of them.</summary>
public sealed class VmLayoutTests
{
    public static TheoryData<VmDefinition, string, string> Invalid() => new()
    {
        { Q35(64) with { MainRamBackend = "" }, ErrorCodes.InvalidId, "mainRamBackend" },
        { Q35(64) with { MainRamBackend = "9mem" }, ErrorCodes.InvalidId, "mainRamBackend" },
        { Q35(64) with { MainRamBackend = "pc.rom" }, ErrorCodes.DuplicateIdstr, "mainRamBackend" },
        { Q35(64) with { MainRamBackend = "mem", NumaNodes = [new("m0", 64 * MiB)] }, ErrorCodes.InvalidParameter, "numaNodes" },
        { Q35(64) with { NumaNodes = [new("m0", 32 * MiB), new("m1", 16 * MiB)] }, ErrorCodes.InvalidMemorySize, "numaNodes" },
        { Q35(64) with { NumaNodes = [new("m0", 32 * MiB), new("m0", 32 * MiB)] }, ErrorCodes.DuplicateIdstr, "numaNodes[1].memdev" },
        { Q35(64) with { NumaNodes = [new("m0", 32 * MiB), new("m 1", 32 * MiB)] }, ErrorCodes.InvalidId, "numaNodes[1].memdev" },
        { Q35(64) with { NumaNodes = [new("m0", (32 * MiB) + 4096), new("m1", (32 * MiB) - 4096)] }, ErrorCodes.InvalidMemorySize, "numaNodes[0].sizeBytes" },
        { Q35(64) with { NumaNodes = [new("m0", 64 * MiB), new("m1", 0)] }, ErrorCodes.InvalidMemorySize, "numaNodes[1].sizeBytes" },
        { Q35(64) with { NumaNodes = [new("pc.bios", 64 * MiB)] }, ErrorCodes.DuplicateIdstr, "numaNodes[0].memdev" },
        { Q35(129) with { NumaNodes = [.. Enumerable.Range(0, 129).Select(i => new NumaNode($"m{i}", MiB))] }, ErrorCodes.InvalidParameter, "numaNodes" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void CreateVm_InvalidLayout_RefusedNamingTheField(VmDefinition definition, string code, string field)
    {
        using var test = new TestEmulator();

        var refused = Assert.Throws<DomainException>(() => test.Emulator.CreateVm(definition));

        Assert.Equal((code, field), (refused.Code, refused.Field));
        Assert.False(test.Emulator.IsNameTaken(definition.Name));
    }

    [Fact]
    public void CreateVm_NumaTotalNotTheMemory_QemuWords()
    {
        using var test = new TestEmulator();

        var refused = Assert.Throws<DomainException>(() => test.Emulator.CreateVm(Q35(128) with { NumaNodes = [new("m0", 64 * MiB), new("m1", 32 * MiB)] }));

        Assert.StartsWith("total memory for NUMA nodes (0x6000000) should equal RAM size (0x8000000)", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("microvm")]
    [InlineData("pc")]
    [InlineData("q35")]
    public void CreateVm_MainRamBackend_MainBlockNamedAfterItAndNoMachineBlock(string machine)
    {
        using var test = new TestEmulator();

        var vm = test.Emulator.CreateVm(TestEmulator.Definition("vm1", machine, 16 * MiB) with { MainRamBackend = "mem" });

        Assert.Equal("mem", vm.MainRam.IdStr);
        Assert.Same(vm.MainRam, Assert.Single(vm.MainRamBlocks));
        Assert.Null(vm.MainRam.BackendId);
        Assert.Null(vm.FindMigratable(vm.Machine.MainRamIdStr));
        vm.WriteGuest(0x1234, [7]);
        var read = new byte[1];
        vm.MainRam.Read(0x1234, read);
        Assert.Equal(7, read[0]);
    }

    [Fact]
    public void CreateVm_NumaAcrossTheFourGiBHole_NodesEndToEndSplitLikeMainRam()
    {
        using var test = new TestEmulator();

        // q35 keeps 2 GiB below 4 GiB once RAM reaches 2.75 GiB: m0 (1 GiB) and the first 1 GiB of m1 are below, the rest above.
        var vm = test.Emulator.CreateVm(Q35(3072) with { NumaNodes = [new("m0", GiB), new("m1", 2 * GiB)] });

        Assert.Equal(["m0", "m1"], vm.MainRamBlocks.Select(b => b.IdStr));
        Assert.Null(vm.FindMigratable("pc.ram"));
        Assert.Equal([0L, GiB], vm.MainRamBlocks.Select(b => b.GuestAddress!.Value));
        var ram = vm.GuestMappings.Where(m => !m.Block.ReadOnly).Select(m => (m.Start, m.Length, m.Block.IdStr, m.BlockOffset));
        Assert.Equal([(0L, GiB, "m0", 0L), (GiB, GiB, "m1", 0L), (4 * GiB, GiB, "m1", GiB)], ram);

        // One write across the boundary of the nodes, and one across the hole's end of m1.
        vm.WriteGuest(GiB - 2, [1, 2, 3, 4]);
        vm.WriteGuest(4 * GiB, [9]);
        var tail = new byte[2];
        vm.MainRamBlocks[0].Read(GiB - 2, tail);
        var head = new byte[2];
        vm.MainRamBlocks[1].Read(0, head);
        var high = new byte[1];
        vm.MainRamBlocks[1].Read(GiB, high);
        Assert.Equal([1, 2], tail);
        Assert.Equal([3, 4], head);
        Assert.Equal(9, high[0]);
    }

    [Fact]
    public void AddMemoryBackend_IdOfANumaMemdev_RefusedAsQemuWould()
    {
        using var test = new TestEmulator();
        var vm = test.Emulator.CreateVm(Q35(64) with { NumaNodes = [new("m0", 32 * MiB), new("m1", 32 * MiB)], Slots = 2, MaxMemBytes = 128 * MiB });

        var refused = Assert.Throws<DomainException>(() => vm.AddMemoryBackend("m1", 16 * MiB));

        Assert.Equal(ErrorCodes.BackendExists, refused.Code);
    }

    [Fact]
    public void FreeBlock_NumaMemdev_RefusedAsAMachineBlock()
    {
        using var test = new TestEmulator();
        var vm = test.Emulator.CreateVm(Q35(64) with { NumaNodes = [new("m0", 32 * MiB), new("m1", 32 * MiB)] });

        var refused = Assert.Throws<DomainException>(() => vm.FreeBlock(vm.MainRamBlocks[1].Id));

        Assert.Equal(ErrorCodes.MachineBlock, refused.Code);
    }

    private static VmDefinition Q35(long memoryMiB) => TestEmulator.Definition("vm1", "q35", memoryMiB * MiB);
}
