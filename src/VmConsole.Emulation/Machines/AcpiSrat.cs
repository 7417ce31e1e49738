using System.Buffers.Binary;
using VmConsole.Emulation.Blocks;

namespace VmConsole.Emulation.Machines;

/// <summary>
/// The ACPI SRAT (memory part) a NUMA VM's stand-in ACPI tables carry, laid out as QEMU 7.2's build_srat makes it: one
/// memory affinity entry per piece of each node's RAM, the 640 KiB-1 MiB hole cut from node 0 and the hole below
/// 4 GiB from the node that crosses it. A QEMU stream lists NUMA blocks largest first; the SRAT keeps the nodes' order,
/// so that a VM exported by the console and imported again (by the console) has its nodes in the same guest order.
/// </summary>
internal static class AcpiSrat
{
    /// <summary>Where in the tables blob the SRAT goes: after the stand-in image's signature.</summary>
    public const int Offset = 64;

    private const int HeaderLength = 48;
    private const int EntryLength = 40;
    private const long Hole640KStart = 0xA_0000;
    private const long Hole640KEnd = 0x10_0000;

    /// <summary>Writes the SRAT of <paramref name="nodeSizes"/> into the tables blob, when it fits.</summary>
    public static void Write(Span<byte> tables, MachinePreset machine, IReadOnlyList<long> nodeSizes)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var entries = Entries(machine, nodeSizes);
        var length = HeaderLength + (entries.Count * EntryLength);
        if (Offset + length > tables.Length)
        {
            return;
        }

        var table = tables.Slice(Offset, length);
        table.Clear();
        "SRAT"u8.CopyTo(table);
        BinaryPrimitives.WriteUInt32LittleEndian(table[4..], (uint)length);
        table[8] = 1;
        "VMCONS"u8.CopyTo(table[10..]);
        BinaryPrimitives.WriteUInt32LittleEndian(table[36..], 1);
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = table.Slice(HeaderLength + (i * EntryLength), EntryLength);
            entry[0] = 1;
            entry[1] = EntryLength;
            BinaryPrimitives.WriteUInt32LittleEndian(entry[2..], (uint)entries[i].Node);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], (ulong)entries[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[16..], (ulong)entries[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[28..], 1);
        }
    }

    private static List<(int Node, long Base, long Length)> Entries(MachinePreset machine, IReadOnlyList<long> nodeSizes)
    {
        var below = machine.BelowFourGiB(nodeSizes.Sum());
        var entries = new List<(int, long, long)>();
        var next = 0L;
        for (var node = 0; node < nodeSizes.Count; node++)
        {
            var start = next;
            var length = nodeSizes[node];
            next = start + length;
            if (start <= Hole640KStart && next > Hole640KStart)
            {
                entries.Add((node, start, Hole640KStart - start));
                if (next <= Hole640KEnd)
                {
                    next = Hole640KEnd;
                    continue;
                }

                start = Hole640KEnd;
                length = next - Hole640KEnd;
            }

            if (start <= below && next > below)
            {
                if (below > start)
                {
                    entries.Add((node, start, below - start));
                }

                start = 4 * Sizes.GiB;
                length = next - below;
                next = start + length;
            }

            if (length > 0)
            {
                entries.Add((node, start, length));
            }
        }

        return entries;
    }
}
