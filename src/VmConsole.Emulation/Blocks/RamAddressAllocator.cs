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

        long best = -1;
        var bestGap = long.MaxValue;
        foreach (var (offset, length) in used)
        {
            var candidate = RoundUp(offset + length);
            var next = long.MaxValue;
            foreach (var (other, _) in used)
            {
                if (other >= candidate && other < next)
                {
                    next = other;
                }
            }

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
