using VmConsole.Qemu.Memory;
using VmConsole.Qemu.Migrations;

namespace VmConsole.Qemu.Tests;

/// <summary>The source's migratable set against the destination's after a migration, from the RAM block table observed here.</summary>
public sealed class QemuMigratableSetTests
{
    private static readonly IReadOnlyList<QemuRamBlock> Source = QemuRamBlockTable.Parse(QemuRamBlockTableTests.Observed);

    [Fact]
    public void Compare_SameBlocksInAnotherOrderWithOtherOffsetsAndUnusedBackends_Null()
    {
        var destination = Source.Where(b => b.Migratable).Reverse().Select(b => b with { Offset = b.Offset + 0x1000 }).Append(new QemuRamBlock("", 4096, 0, 1L << 20, 1L << 20)).ToList();

        Assert.Null(QemuMigratableSet.Compare(Source, destination));
    }

    [Fact]
    public void Compare_AResizedAMissingAndANewBlock_NamesEach()
    {
        var destination = Source
            .Where(b => b.IdStr != "mem1")
            .Select(b => b.IdStr == "/rom@etc/acpi/tables" ? b with { UsedLength = 0x40000 } : b)
            .Append(new QemuRamBlock("mem2", 4096, 0, 64L << 20, 64L << 20))
            .ToList();

        var difference = QemuMigratableSet.Compare(Source, destination);

        Assert.Equal(
            "'/rom@etc/acpi/tables' 0x20000 used in 0x1000 pages on the source, 0x40000 in 0x1000 pages on the destination; "
            + "'mem1' (0x4000000 used) only on the source; 'mem2' (0x4000000 used) only on the destination",
            difference);
    }
}
