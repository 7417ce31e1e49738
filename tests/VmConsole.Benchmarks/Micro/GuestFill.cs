namespace VmConsole.Benchmarks.Micro;

/// <summary>Deterministic contents for benchmark memory. Every page is written, so it is backed by its own physical page.</summary>
internal static class GuestFill
{
    /// <summary>Writes zeros over every page (a read alone would map the kernel's one shared zero page, always in cache).</summary>
    public static void TouchZero(Span<byte> memory) => memory.Clear();

    /// <summary>Random bytes in every page; no page comes out all zero.</summary>
    public static void Random(Span<byte> memory, int seed)
    {
        new Random(seed).NextBytes(memory);
        for (var offset = 0; offset < memory.Length; offset += MicroSizes.PageSize)
        {
            memory[offset] |= 1;
        }
    }

    /// <summary>
    /// Each page either zero or random, half and half, chosen per page from <paramref name="seed"/> (so the zero check's
    /// branch is not predictable). Returns the number of zero pages.
    /// </summary>
    public static long HalfZero(Span<byte> memory, int seed)
    {
        var random = new Random(seed);
        long zeroPages = 0;
        for (var offset = 0; offset < memory.Length; offset += MicroSizes.PageSize)
        {
            var page = memory.Slice(offset, MicroSizes.PageSize);
            if (random.Next(2) == 0)
            {
                page.Clear();
                zeroPages++;
            }
            else
            {
                random.NextBytes(page);
                page[0] |= 1;
            }
        }

        return zeroPages;
    }
}
