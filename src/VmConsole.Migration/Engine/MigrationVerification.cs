using VmConsole.Emulation.Vms;

namespace VmConsole.Migration.Engine;

/// <summary>
/// The check at switchover that the destination holds the source's memory: its migratable blocks are compared with the
/// source's byte for byte while the guest is stopped.
/// </summary>
internal static class MigrationVerification
{
    /// <summary>
    /// Compares the blocks byte for byte; a page one side never backed reads as zero there and is checked against zero
    /// on the other side alone (reading it would only fault it in).
    /// </summary>
    public static bool MemoryEquals(Vm source, IReadOnlyList<Emulation.Blocks.RamBlock> destinationBlocks)
    {
        // Large blocks are compared in as many slices as there are cores: the guest is stopped and nothing else runs.
        const long SliceBytes = 64 << 20;
        var slices = new List<(Emulation.Blocks.RamBlock Origin, Emulation.Blocks.RamBlock Target, long Offset, long Length)>();
        foreach (var target in destinationBlocks)
        {
            var origin = source.FindMigratable(target.IdStr)!;
            for (long offset = 0; offset < target.UsedLength; offset += SliceBytes)
            {
                slices.Add((origin, target, offset, Math.Min(SliceBytes, target.UsedLength - offset)));
            }
        }

        var equal = true;
        Parallel.ForEach(slices, (slice, state) =>
        {
            if (!SliceEquals(slice.Origin, slice.Target, slice.Offset, slice.Length))
            {
                Volatile.Write(ref equal, false);
                state.Stop();
            }
        });
        return equal;
    }

    private static bool SliceEquals(Emulation.Blocks.RamBlock origin, Emulation.Blocks.RamBlock target, long from, long length)
    {
        const int PageSize = Wire.QemuFormat.TargetPageSize;
        const int ChunkPages = 256;
        Span<ulong> untouchedA = stackalloc ulong[ChunkPages / 64];
        Span<ulong> untouchedB = stackalloc ulong[ChunkPages / 64];
        using var a = origin.AcquireMemory();
        using var b = target.AcquireMemory();
        for (var offset = from; offset < from + length; offset += ChunkPages * PageSize)
        {
            var pages = (int)Math.Min(ChunkPages, (from + length - offset) / PageSize);
            if (!a.TryGetUntouched(offset, pages, untouchedA) || !b.TryGetUntouched(offset, pages, untouchedB))
            {
                untouchedA.Clear();
                untouchedB.Clear();
            }

            // Runs of pages in the same state: a side that never backed a page is zero there without being read (a read
            // would back it with the zero page), so only a page both sides backed needs both read.
            var page = 0;
            while (page < pages)
            {
                var state = State(untouchedA, untouchedB, page);
                var end = page + 1;
                while (end < pages && State(untouchedA, untouchedB, end) == state)
                {
                    end++;
                }

                var start = offset + ((long)page * PageSize);
                var run = (end - page) * PageSize;
                var same = state switch
                {
                    3 => true,
                    1 => !b.Span(start, run).ContainsAnyExcept((byte)0),
                    2 => !a.Span(start, run).ContainsAnyExcept((byte)0),
                    _ => a.Span(start, run).SequenceEqual(b.Span(start, run)),
                };
                if (!same)
                {
                    return false;
                }

                page = end;
            }
        }

        return true;
    }

    /// <summary>Bit 0: the source never backed the page; bit 1: the destination never backed it.</summary>
    private static int State(ReadOnlySpan<ulong> untouchedA, ReadOnlySpan<ulong> untouchedB, int page) =>
        (IsSet(untouchedA, page) ? 1 : 0) | (IsSet(untouchedB, page) ? 2 : 0);

    private static bool IsSet(ReadOnlySpan<ulong> bits, int index) => (bits[index >> 6] & (1UL << (index & 63))) != 0;
}
