using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Memory;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

/// <summary>The QEMU command line a VM's RAM layout gives, and the pre-check that compares a QEMU's blocks with the VM's, block by block.</summary>
public sealed class QemuLayoutSpecTests
{
    private const long MiB = Sizes.MiB;

    [Fact]
    public void Layout_MainRamBackend_MachinePropertyAndItsObject()
    {
        var spec = new QemuVmSpec("mb-1", "microvm", 16 * MiB) { MainRamBackend = "mem" };

        Assert.Equal(["-M", "microvm,memory-backend=mem", "-m", "16M", "-object", "memory-backend-ram,id=mem,size=16M"], QemuCommandLine.Layout(spec));
    }

    [Fact]
    public void Layout_NumaNodesAndDimms_ObjectsThenNodesThenDevices()
    {
        var spec = new QemuVmSpec("numa-1", "q35", 96 * MiB)
        {
            NumaNodes = [new NumaNode("m0", 64 * MiB), new NumaNode("m1", 32 * MiB)],
            Slots = 1,
            MaxMemBytes = 128 * MiB,
            Backends = [new QemuMemoryBackend("d0", 16 * MiB, "dimm0")],
        };

        Assert.Equal(
            [
                "-M", "q35", "-m", "96M,slots=1,maxmem=128M",
                "-object", "memory-backend-ram,id=m0,size=64M", "-object", "memory-backend-ram,id=m1,size=32M",
                "-object", "memory-backend-ram,id=d0,size=16M",
                "-numa", "node,memdev=m0", "-numa", "node,memdev=m1",
                "-device", "pc-dimm,id=dimm0,memdev=d0",
            ],
            QemuCommandLine.Layout(spec));
    }

    public static TheoryData<string, QemuVmSpec, string> Refused => new()
    {
        { "backend and NUMA", new QemuVmSpec("x", "q35", 64 * MiB) { MainRamBackend = "mem", NumaNodes = [new NumaNode("m0", 64 * MiB)] }, ErrorCodes.InvalidParameter },
        { "NUMA total", new QemuVmSpec("x", "q35", 64 * MiB) { NumaNodes = [new NumaNode("m0", 32 * MiB)] }, ErrorCodes.InvalidMemorySize },
        { "memdev with a comma", new QemuVmSpec("x", "q35", 64 * MiB) { NumaNodes = [new NumaNode("m0,share=on", 64 * MiB)] }, ErrorCodes.InvalidId },
        { "backend id with a comma", new QemuVmSpec("x", "q35", 64 * MiB) { MainRamBackend = "m,prealloc=on" }, ErrorCodes.InvalidId },
        { "memdev used twice", new QemuVmSpec("x", "q35", 64 * MiB) { NumaNodes = [new NumaNode("m0", 32 * MiB), new NumaNode("m0", 32 * MiB)] }, ErrorCodes.DuplicateIdstr },
        {
            "dimm backend named like a memdev",
            new QemuVmSpec("x", "q35", 64 * MiB) { NumaNodes = [new NumaNode("m0", 64 * MiB)], Slots = 1, MaxMemBytes = 128 * MiB, Backends = [new QemuMemoryBackend("m0", 16 * MiB, "d")] },
            ErrorCodes.BackendExists
        },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Build_BadLayout_Refused(string why, QemuVmSpec spec, string code)
    {
        var refused = Assert.Throws<DomainException>(() => QemuCommandLine.Build(spec, "/tmp/x"));

        Assert.True(refused.Code == code, $"{why}: {refused.Code} {refused.Message}");
    }

    [Fact]
    public void SpecFor_NumaVmWithADimm_SameLayout()
    {
        using var test = new TestEmulator();
        var vm = test.Emulator.CreateVm(TestEmulator.Definition("numa-1", "q35", 96 * MiB) with
        {
            NumaNodes = [new NumaNode("m0", 64 * MiB), new NumaNode("m1", 32 * MiB)],
            Slots = 2,
            MaxMemBytes = 256 * MiB,
        });
        vm.AddMemoryBackend("d0", 16 * MiB);
        vm.PlugDimm("dimm0", "d0");

        var spec = CrossDriverLayout.SpecFor(vm);

        Assert.Null(spec.MainRamBackend);
        Assert.Equal(vm.Definition.NumaNodes, spec.NumaNodes);
        Assert.Equal([new QemuMemoryBackend("d0", 16 * MiB, "dimm0")], spec.Backends);
        Assert.Equal((2, 256 * MiB), (spec.Slots, spec.MaxMemBytes));
    }

    [Fact]
    public void FirstMismatch_SameLayout_None()
    {
        using var test = new TestEmulator();
        var vm = test.Emulator.CreateVm(TestEmulator.Definition("mb-1", "microvm", 16 * MiB) with { MainRamBackend = "mem" });

        Assert.Null(CrossDriverLayout.FirstMismatch(vm, Blocks(vm)));
    }

    [Fact]
    public void FirstMismatch_QemuWithTheMachineMainRam_NamesTheVmsBackendBlock()
    {
        using var test = new TestEmulator();
        var vm = test.Emulator.CreateVm(TestEmulator.Definition("mb-1", "microvm", 16 * MiB) with { MainRamBackend = "mem" });
        var qemu = Blocks(vm).Select(b => b.IdStr == "mem" ? b with { IdStr = "microvm.ram" } : b).ToList();

        var mismatch = CrossDriverLayout.FirstMismatch(vm, qemu);

        Assert.Equal("block 'mem' (16 MiB) has no migratable block of that name in QEMU's microvm", mismatch);
    }

    [Fact]
    public void FirstMismatch_NumaNodeOfAnotherSize_NamesItWithBothSizes()
    {
        using var test = new TestEmulator();
        var vm = test.Emulator.CreateVm(TestEmulator.Definition("numa-1", "q35", 96 * MiB) with { NumaNodes = [new NumaNode("m0", 64 * MiB), new NumaNode("m1", 32 * MiB)] });
        var qemu = Blocks(vm).Select(b => b.IdStr == "m1" ? b with { UsedLength = 16 * MiB, MaxLength = 16 * MiB } : b).ToList();

        var mismatch = CrossDriverLayout.FirstMismatch(vm, qemu);

        Assert.Equal("block 'm1' is 32 MiB here and 16 MiB in QEMU's q35, which cannot be resized", mismatch);
    }

    [Fact]
    public void FirstMismatch_QemuHasABlockTheVmHasNot_NamesQemusBlock()
    {
        using var test = new TestEmulator();
        var vm = test.Emulator.CreateVm(TestEmulator.Definition("numa-1", "q35", 96 * MiB) with { NumaNodes = [new NumaNode("m0", 64 * MiB), new NumaNode("m1", 32 * MiB)] });
        List<QemuRamBlock> qemu = [.. Blocks(vm), new QemuRamBlock("m2", 4096, 0, 32 * MiB, 32 * MiB, "m2")];

        var mismatch = CrossDriverLayout.FirstMismatch(vm, qemu);

        Assert.Equal("QEMU's q35 has block 'm2' (32 MiB) and the VM has no block of that name, so that RAM would stay empty", mismatch);
    }

    /// <summary>The VM's migratable blocks as a QEMU with the same layout lists them.</summary>
    private static List<QemuRamBlock> Blocks(Vm vm) =>
        [.. vm.RamBlocks.Where(b => b.Migratable).Select(b => new QemuRamBlock(b.IdStr, b.PageSize, b.Offset, b.UsedLength, b.MaxLength))];
}
