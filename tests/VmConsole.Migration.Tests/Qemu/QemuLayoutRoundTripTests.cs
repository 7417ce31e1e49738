using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VmConsole.Emulation;
using VmConsole.Emulation.Machines;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Qemu;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>
/// Random RAM layouts the console accepts (the machine's main RAM, a memory-backend, NUMA nodes, pc-dimms, ROMs used below
/// their max) go through the console's own QEMU export and import: the same layout and every byte come back.
/// </summary>
public sealed class QemuLayoutRoundTripTests
{
    private const long MiB = Sizes.MiB;

    private static readonly Gen<string> IdPrefix = Gen.Elements("mem", "ram", "m", "node-", "Ram_x.", "pc.ram-", "n");

    /// <summary>
    /// A layout the block list names exactly: NUMA with two or more nodes (in any order of sizes: their ACPI tables say
    /// it), and dimms in non-increasing size (QEMU lists blocks from the largest, equal sizes in creation order, and the
    /// import plugs dimms in that order).
    /// </summary>
    private static readonly Gen<Layout> LayoutGen =
        from machine in Gen.Elements("microvm", "pc", "q35")
        from kind in Gen.Elements(LayoutKind.Machine, LayoutKind.Backend, LayoutKind.Numa, LayoutKind.Dimms)
        from prefix in IdPrefix
        from mainMiB in Gen.Choose(1, 12)
        from nodeCount in Gen.Choose(2, 4)
        from nodeMiB in Gen.ArrayOf(Gen.Choose(1, 6), nodeCount)
        from dimmCount in Gen.Choose(1, 3)
        from dimmMiB in Gen.ArrayOf(Gen.Choose(1, 6), dimmCount)
        from tablesPages in Gen.Choose(1, 512)
        from loaderPages in Gen.Choose(1, 16)
        from writes in Gen.ArrayOf(Gen.Choose(0, int.MaxValue), 12)
        select new Layout(
            machine,
            kind == LayoutKind.Dimms && machine == "microvm" ? LayoutKind.Machine : kind,
            prefix,
            mainMiB,
            nodeMiB,
            [.. dimmMiB.OrderDescending()],
            tablesPages,
            loaderPages,
            writes);

    [Property(MaxTest = 60)]
    public Property ExportThenImport_RandomLayout_SameLayoutBlocksAndBytes() =>
        Prop.ForAll(LayoutGen.ToArbitrary(), layout =>
        {
            using var emulator = QemuStreams.NewEmulator(out var host);
            var source = layout.Create(emulator, host);
            using var stream = new MemoryStream();
            QemuStreamExport.ExportAsync(source, stream).GetAwaiter().GetResult();
            stream.Position = 0;
            var copy = new QemuStreamImport(emulator).ImportAsync("copy", host, stream).GetAwaiter().GetResult().Vm;

            Assert.Equal(source.Machine, copy.Machine);
            Assert.Equal(source.MemoryBytes, copy.MemoryBytes);
            Assert.Equal(source.Definition.MainRamBackend, copy.Definition.MainRamBackend);
            Assert.Equal(source.Definition.NumaNodes, copy.Definition.NumaNodes);
            Assert.Equal((source.Slots, source.MaxMemBytes), (copy.Slots, copy.MaxMemBytes));
            Assert.Equal(Shape(source), Shape(copy));
            Assert.Equal(source.Devices.Select(d => (d.Id, d.Memdev, d.Slot, d.Address, d.Size)), copy.Devices.Select(d => (d.Id, d.Memdev, d.Slot, d.Address, d.Size)));
            Assert.Equal(source.GuestMappings.Select(m => (m.Start, m.Length, m.Block.IdStr, m.BlockOffset)), copy.GuestMappings.Select(m => (m.Start, m.Length, m.Block.IdStr, m.BlockOffset)));
            foreach (var block in source.RamBlocks.Where(b => b.Migratable))
            {
                Assert.True(Bytes(block).AsSpan().SequenceEqual(Bytes(copy.FindMigratable(block.IdStr)!)), $"bytes of '{block.IdStr}'");
            }
        });

    [Theory]
    [InlineData("q35")]
    [InlineData("microvm")]
    public async Task ExportThenImport_OneNumaNode_ComesBackAsMemoryBackendWithTheSameBlocks(string machine)
    {
        // -numa node,memdev=m0 and -machine memory-backend=m0 make the same block list: QEMU accepts the stream either way.
        using var emulator = QemuStreams.NewEmulator(out var host);
        var source = emulator.CreateVm(new VmDefinition("one", host, machine, 8 * MiB) { NumaNodes = [new NumaNode("m0", 8 * MiB)], Start = true });
        source.WriteGuest(0x5000, [1, 2, 3]);
        using var stream = new MemoryStream();
        await QemuStreamExport.ExportAsync(source, stream);
        stream.Position = 0;

        var copy = (await new QemuStreamImport(emulator).ImportAsync("copy", host, stream)).Vm;

        Assert.Equal("m0", copy.Definition.MainRamBackend);
        Assert.Equal(Shape(source), Shape(copy));
        var read = new byte[3];
        copy.ReadGuest(0x5000, read);
        Assert.Equal([1, 2, 3], read);
    }

    private static List<(string IdStr, long UsedLength, long MaxLength, long? GuestAddress)> Shape(Vm vm) =>
        [.. vm.RamBlocks.Where(b => b.Migratable).Select(b => (b.IdStr, b.UsedLength, b.MaxLength, b.GuestAddress))];

    private static byte[] Bytes(Emulation.Blocks.RamBlock block)
    {
        var bytes = new byte[block.UsedLength];
        block.Read(0, bytes);
        return bytes;
    }

    internal enum LayoutKind
    {
        Machine,
        Backend,
        Numa,
        Dimms,
    }

    internal sealed record Layout(string Machine, LayoutKind Kind, string Prefix, int MainMiB, int[] NodeMiB, int[] DimmMiB, int TablesPages, int LoaderPages, int[] Writes)
    {
        public Vm Create(Emulator emulator, string host)
        {
            var dimmBytes = Kind == LayoutKind.Dimms ? DimmMiB.Sum() * MiB : 0;
            var memory = Kind == LayoutKind.Numa ? NodeMiB.Sum() * MiB : MainMiB * MiB;
            var vm = emulator.CreateVm(new VmDefinition("source", host, Machine, memory)
            {
                MainRamBackend = Kind == LayoutKind.Backend ? Prefix + "0" : null,
                NumaNodes = Kind == LayoutKind.Numa ? [.. NodeMiB.Select((size, i) => new NumaNode($"{Prefix}{i}", size * MiB))] : [],
                Slots = Kind == LayoutKind.Dimms ? DimmMiB.Length : 0,
                MaxMemBytes = Kind == LayoutKind.Dimms ? memory + dimmBytes : 0,
                Start = true,
            });
            if (Kind == LayoutKind.Dimms)
            {
                for (var i = 0; i < DimmMiB.Length; i++)
                {
                    vm.AddMemoryBackend($"{Prefix}d{i}", DimmMiB[i] * MiB);
                    vm.PlugDimm($"dimm-{Prefix}d{i}", $"{Prefix}d{i}");
                }
            }

            var tables = vm.FindMigratable("/rom@etc/acpi/tables")!;
            vm.Resize(tables.Id, Math.Min(TablesPages * 4096L, tables.MaxLength));
            var loader = vm.FindMigratable("/rom@etc/table-loader")!;
            vm.Resize(loader.Id, Math.Min(LoaderPages * 4096L, loader.MaxLength));

            var blocks = vm.RamBlocks.Where(b => b.Migratable).ToList();
            foreach (var seed in Writes)
            {
                var block = blocks[seed % blocks.Count];
                var offset = (long)((uint)seed * 2654435761u % (ulong)(block.UsedLength - 16));
                block.Write(offset, [(byte)seed, (byte)(seed >> 8), 0xA5, (byte)(seed >> 16)]);
            }

            return vm;
        }
    }
}
