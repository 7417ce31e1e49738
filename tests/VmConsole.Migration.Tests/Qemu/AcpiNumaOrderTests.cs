using VmConsole.Emulation;
using VmConsole.Emulation.Machines;
using VmConsole.Migration.Qemu;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>The NUMA order read back from an SRAT laid out as QEMU 7.2 builds it (the 640 KiB hole, the hole below 4 GiB).</summary>
public sealed class AcpiNumaOrderTests
{
    private const long MiB = Sizes.MiB;

    [Theory]
    [InlineData("q35", new long[] { 32, 96 })]
    [InlineData("q35", new long[] { 1, 2, 1 })]
    [InlineData("q35", new long[] { 1024, 2048 })] // crosses the hole below 4 GiB (q35 keeps 2 GiB below it)
    [InlineData("pc", new long[] { 3072, 512, 1024 })]
    [InlineData("microvm", new long[] { 8, 4, 16, 2 })]
    public void Read_SratOfNodes_TheirOrderFromBlocksListedLargestFirst(string machine, long[] nodesMiB)
    {
        var tables = new byte[128 * 1024];
        AcpiSrat.Write(tables, MachinePreset.Find(machine), [.. nodesMiB.Select(n => n * MiB)]);
        var memdevs = nodesMiB.Select((size, i) => ($"m{i}", size * MiB)).ToList();
        var streamOrder = memdevs.OrderByDescending(n => n.Item2).ToList();

        var order = AcpiNumaOrder.Read(tables, streamOrder);

        Assert.Equal(memdevs.Select(n => n.Item1), order);
    }

    [Fact]
    public void Read_NoSrat_Null()
    {
        var tables = new byte[4096];
        new Random(7).NextBytes(tables);

        Assert.Null(AcpiNumaOrder.Read(tables, [("m0", 32 * MiB), ("m1", 16 * MiB)]));
    }

    [Fact]
    public void Read_SratOfOtherSizes_Null()
    {
        var tables = new byte[4096];
        AcpiSrat.Write(tables, MachinePreset.Q35, [32 * MiB, 64 * MiB]);

        Assert.Null(AcpiNumaOrder.Read(tables, [("m0", 32 * MiB), ("m1", 48 * MiB)]));
    }
}
