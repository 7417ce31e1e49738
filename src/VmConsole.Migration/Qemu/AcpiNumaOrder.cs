using System.Buffers.Binary;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// The guest order of a QEMU guest's NUMA nodes, read from the ACPI SRAT its firmware blob carries
/// (<c>/rom@etc/acpi/tables</c>, migrated with the RAM): a QEMU stream lists the nodes' blocks largest first, and only
/// the SRAT says which node (proximity domain 0, 1, ...) each size is. QEMU 7.2's build_srat gives each node one memory
/// affinity entry per piece of its RAM, cutting out the 640 KiB-1 MiB hole (from node 0) and the hole below 4 GiB.
/// </summary>
internal static class AcpiNumaOrder
{
    private const int TableHeader = 36;
    private const int SratEntriesStart = TableHeader + 12;
    private const byte MemoryAffinity = 1;
    private const int MemoryAffinityLength = 40;
    private const uint Enabled = 1;
    private const uint HotPluggable = 2;
    private const long Hole640KStart = 0xA_0000;
    private const long Hole640KEnd = 0x10_0000;

    /// <summary>
    /// The memdevs of <paramref name="nodes"/> (idstr and size, in stream order) in guest order, or null when the
    /// tables hold no SRAT that names one node per block by size (then the stream's order stands).
    /// </summary>
    public static IReadOnlyList<string>? Read(ReadOnlySpan<byte> tables, IReadOnlyList<(string Memdev, long Size)> nodes)
    {
        var sizes = NodeSizes(tables);
        if (sizes is null || sizes.Count != nodes.Count)
        {
            return null;
        }

        // Equal sizes keep the stream's order among them: QEMU lists equal blocks in the order they were made.
        var left = nodes.ToList();
        var order = new List<string>(nodes.Count);
        foreach (var size in sizes)
        {
            var match = left.FindIndex(n => n.Size == size);
            if (match < 0)
            {
                return null;
            }

            order.Add(left[match].Memdev);
            left.RemoveAt(match);
        }

        return order;
    }

    /// <summary>Each proximity domain's RAM in bytes, by domain number, from the first valid SRAT in the blob; null when there is none.</summary>
    private static List<long>? NodeSizes(ReadOnlySpan<byte> tables)
    {
        for (var at = tables.IndexOf("SRAT"u8); at >= 0 && at + SratEntriesStart <= tables.Length;)
        {
            var length = BinaryPrimitives.ReadUInt32LittleEndian(tables[(at + 4)..]);
            // No checksum to go by: QEMU leaves it to the firmware's table loader, so the blob carries none yet.
            if (length >= SratEntriesStart && length <= tables.Length - at && Domains(tables.Slice(at + SratEntriesStart, (int)length - SratEntriesStart)) is { } sizes)
            {
                return sizes;
            }

            var next = tables[(at + 1)..].IndexOf("SRAT"u8);
            at = next < 0 ? -1 : at + 1 + next;
        }

        return null;
    }

    private static List<long>? Domains(ReadOnlySpan<byte> entries)
    {
        var sizes = new SortedDictionary<uint, long>();
        while (entries.Length >= 2)
        {
            var (type, length) = (entries[0], entries[1]);
            if (length < 2 || length > entries.Length)
            {
                return null;
            }

            if (type == MemoryAffinity && length == MemoryAffinityLength)
            {
                var domain = BinaryPrimitives.ReadUInt32LittleEndian(entries[2..]);
                var baseAddress = (long)BinaryPrimitives.ReadUInt64LittleEndian(entries[8..]);
                var size = (long)BinaryPrimitives.ReadUInt64LittleEndian(entries[16..]);
                var flags = BinaryPrimitives.ReadUInt32LittleEndian(entries[28..]);
                if ((flags & Enabled) != 0 && (flags & HotPluggable) == 0 && size > 0)
                {
                    // The piece of node 0 that ends at 640 KiB: the hole up to 1 MiB is that node's RAM too.
                    var hole = baseAddress == 0 && size == Hole640KStart ? Hole640KEnd - Hole640KStart : 0;
                    sizes[domain] = sizes.GetValueOrDefault(domain) + size + hole;
                }
            }

            entries = entries[length..];
        }

        // A table that does not end where its entries do is not an SRAT.
        return entries.Length == 0 && sizes.Count > 0 && sizes.Keys.Last() == sizes.Count - 1 ? [.. sizes.Values] : null;
    }
}
