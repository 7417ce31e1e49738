using System.Text.Json;
using VmConsole.Qemu.Memory;

namespace VmConsole.Qemu.Tests;

/// <summary>QEMU 7.2's RAM block table, as x-query-ramblock, query-memdev and query-memory-devices answered on this machine.</summary>
public sealed class QemuRamBlockTableTests
{
    /// <summary>A q35 with -m 256M,slots=2,maxmem=1G, backend mem1 (64 MiB) plugged as pc-dimm dimm1, backend spare (32 MiB) unused.</summary>
    public const string Observed = """
                      Block Name    PSize              Offset               Used              Total
                          pc.ram    4 KiB  0x0000000006000000 0x0000000010000000 0x0000000010000000
                            mem1    4 KiB  0x0000000000000000 0x0000000004000000 0x0000000004000000
                                    4 KiB  0x0000000004000000 0x0000000002000000 0x0000000002000000
            /rom@etc/acpi/tables    4 KiB  0x0000000016080000 0x0000000000020000 0x0000000000200000
                         pc.bios    4 KiB  0x0000000016000000 0x0000000000040000 0x0000000000040000
                          pc.rom    4 KiB  0x0000000016040000 0x0000000000020000 0x0000000000020000
           /rom@etc/table-loader    4 KiB  0x0000000016280000 0x0000000000001000 0x0000000000010000
              /rom@etc/acpi/rsdp    4 KiB  0x00000000162c0000 0x0000000000001000 0x0000000000001000

        """;

    public const string Memdevs = """
        [{"share": false, "reserve": true, "prealloc": false, "host-nodes": [], "size": 67108864, "merge": true, "dump": true, "policy": "default", "id": "mem1"},
         {"share": false, "reserve": true, "prealloc": false, "host-nodes": [], "size": 268435456, "merge": true, "dump": true, "policy": "default", "id": "pc.ram"},
         {"share": false, "reserve": true, "prealloc": false, "host-nodes": [], "size": 33554432, "merge": true, "dump": true, "policy": "default", "id": "spare"}]
        """;

    public const string MemoryDevices = """
        [{"type": "dimm", "data": {"memdev": "/objects/mem1", "hotplugged": false, "addr": 4294967296, "hotpluggable": true, "size": 67108864, "slot": 0, "node": 0, "id": "dimm1"}}]
        """;

    [Fact]
    public void Parse_Observed_EveryRowWithItsSizesAndTheUnnamedBackend()
    {
        var blocks = QemuRamBlockTable.Parse(Observed);

        Assert.Equal(8, blocks.Count);
        Assert.Equal(new QemuRamBlock("pc.ram", 4096, 0x6000000, 256L << 20, 256L << 20), blocks[0]);
        Assert.Equal(new QemuRamBlock("", 4096, 0x4000000, 32L << 20, 32L << 20), blocks[2]);
        Assert.Equal(new QemuRamBlock("/rom@etc/acpi/tables", 4096, 0x16080000, 0x20000, 0x200000), blocks[3]);
        Assert.True(blocks[3].Resizeable);
        Assert.False(blocks[2].Migratable);
        Assert.Equal(7, blocks.Count(b => b.Migratable));
    }

    [Fact]
    public void Join_Observed_NamesBackendsAndDevicesAndTheUnusedBackendBySize()
    {
        using var memdevs = JsonDocument.Parse(Memdevs);
        using var devices = JsonDocument.Parse(MemoryDevices);

        var blocks = QemuRamBlockTable.Join(QemuRamBlockTable.Parse(Observed), memdevs.RootElement, devices.RootElement);

        Assert.Equal(("pc.ram", null), (blocks[0].BackendId, blocks[0].DeviceId));
        Assert.Equal(("mem1", "dimm1"), (blocks[1].BackendId, blocks[1].DeviceId));
        Assert.Equal(("spare", null, false), (blocks[2].BackendId, blocks[2].DeviceId, blocks[2].Migratable));
        Assert.All(blocks.Skip(3), b => Assert.Null(b.BackendId));
    }

    [Fact]
    public void Join_TwoUnusedBackendsOfOneSize_DoesNotGuess()
    {
        var text = """
                  Block Name    PSize              Offset               Used              Total
                                4 KiB  0x0000000000000000 0x0000000002000000 0x0000000002000000
                                4 KiB  0x0000000002000000 0x0000000002000000 0x0000000002000000
            """;
        using var memdevs = JsonDocument.Parse("""[{"id": "a", "size": 33554432}, {"id": "b", "size": 33554432}]""");
        using var devices = JsonDocument.Parse("[]");

        var blocks = QemuRamBlockTable.Join(QemuRamBlockTable.Parse(text), memdevs.RootElement, devices.RootElement);

        Assert.All(blocks, b => Assert.Null(b.BackendId));
    }

    [Theory]
    [InlineData("   pc.ram    4 KiB  0x0 0x10")]
    [InlineData("   pc.ram    4 KiB  0x0 0x10 zz")]
    [InlineData("   pc.ram    4 XiB  0x0 0x10 0x10")]
    [InlineData("   pc.ram    four KiB  0x0 0x10 0x10")]
    public void Parse_NotARow_SaysWhichLine(string line)
    {
        var refused = Assert.Throws<FormatException>(() => QemuRamBlockTable.Parse(line));
        Assert.Contains("pc.ram", refused.Message, StringComparison.Ordinal);
    }
}
