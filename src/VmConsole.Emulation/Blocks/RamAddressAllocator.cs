namespace VmConsole.Emulation.Blocks;

/// <summary>
/// Places blocks in a VM's ram_addr space the way QEMU's find_ram_offset does: candidates start at the
/// end of each block rounded up to 64 pages (so dirty bitmaps sync a whole word at a time), and the
/// smallest gap that fits wins.
/// </summary>
public static class RamAddressAllocator
{
    /// <summary>64 target pages of 4 KiB: one bitmap word.</summary>
    public const long Alignment = 64 * 4096;

    /// <summary>Finds an offset for <paramref name="size"/> bytes that overlaps none of <paramref name="used"/>.</summary>
    public static long FindOffset(IReadOnlyList<(long Offset, long Length)> used, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        if (used.Count == 0)
        {
            return 0;
        }

        // The next block at or after a candidate, by binary search over the sorted offsets: n log n, not n
        // squared (a VM with 10,000 backends places its next one in microseconds).
        var offsets = new long[used.Count];
        for (var i = 0; i < offsets.Length; i++)
        {
            offsets[i] = used[i].Offset;
        }

        Array.Sort(offsets);
        long best = -1;
        var bestGap = long.MaxValue;
        foreach (var (offset, length) in used)
        {
            var candidate = RoundUp(offset + length);
            var at = Array.BinarySearch(offsets, candidate);
            if (at < 0)
            {
                at = ~at;
            }
            else
            {
                // Several blocks may share an offset; any of them is the next one.
                while (at > 0 && offsets[at - 1] == candidate)
                {
                    at--;
                }
            }

            var next = at < offsets.Length ? offsets[at] : long.MaxValue;
            var gap = next - candidate;
            if (gap >= size && gap < bestGap)
            {
                best = candidate;
                bestGap = gap;
            }
        }

        // Only an address space filled up to long.MaxValue has no gap; that is a bug, not input.
        return best >= 0 ? best : throw new InvalidOperationException($"No room for a RAM block of {size} bytes.");
    }

    private static long RoundUp(long value) => (value + Alignment - 1) / Alignment * Alignment;
}
