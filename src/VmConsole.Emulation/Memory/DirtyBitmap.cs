using System.Numerics;

namespace VmConsole.Emulation.Memory;

/// <summary>
/// One bit per page, set on every guest write, taken and cleared by a sync (QEMU's dirty log).
/// </summary>
/// <remarks>
/// Written concurrently by guest writers (<see cref="Set"/>: atomic OR, after the data store) and by
/// syncs (<see cref="SyncInto"/>: atomic exchange with zero, before the data is read). A bit set
/// during a sync is either taken by it or left for the next one, never lost: both sides are full
/// fences, so a page written after its bit was taken is marked again.
/// </remarks>
public sealed class DirtyBitmap
{
    private readonly ulong[] _words;

    public DirtyBitmap(long pageCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pageCount);
        PageCount = pageCount;
        _words = new ulong[(pageCount + 63) / 64];
    }

    public long PageCount { get; }

    /// <summary>Words needed for a destination bitmap of this many pages.</summary>
    public static int WordsFor(long pageCount) => (int)((pageCount + 63) / 64);

    public void Set(long page)
    {
        CheckPage(page);
        Interlocked.Or(ref _words[page >> 6], 1UL << (int)(page & 63));
    }

    public void SetRange(long firstPage, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0)
        {
            return;
        }

        CheckPage(firstPage);
        CheckPage(firstPage + count - 1);
        var page = firstPage;
        var end = firstPage + count;
        while (page < end)
        {
            var bit = (int)(page & 63);
            var bits = Math.Min(64 - bit, end - page);
            var mask = bits == 64 ? ulong.MaxValue : ((1UL << (int)bits) - 1) << bit;
            Interlocked.Or(ref _words[page >> 6], mask);
            page += bits;
        }
    }

    public bool IsSet(long page)
    {
        CheckPage(page);
        return (Volatile.Read(ref _words[page >> 6]) & (1UL << (int)(page & 63))) != 0;
    }

    /// <summary>Dirty pages not yet taken (a racy count, for display).</summary>
    public long CountSet()
    {
        long count = 0;
        foreach (ref var word in _words.AsSpan())
        {
            count += BitOperations.PopCount(Volatile.Read(ref word));
        }

        return count;
    }

    /// <summary>
    /// Takes every set bit, clears it here and ORs it into <paramref name="destination"/>; returns how many
    /// bits were taken. <paramref name="destination"/> needs <see cref="WordsFor"/> words.
    /// </summary>
    public long SyncInto(Span<ulong> destination)
    {
        if (destination.Length < _words.Length)
        {
            throw new ArgumentException($"Destination holds {destination.Length} words; {_words.Length} needed.", nameof(destination));
        }

        long taken = 0;
        for (var i = 0; i < _words.Length; i++)
        {
            if (Volatile.Read(ref _words[i]) == 0)
            {
                continue;
            }

            var bits = Interlocked.Exchange(ref _words[i], 0);
            destination[i] |= bits;
            taken += BitOperations.PopCount(bits);
        }

        return taken;
    }

    /// <summary>Takes and clears every set bit, returning only how many there were.</summary>
    public long SyncAndCount()
    {
        long taken = 0;
        for (var i = 0; i < _words.Length; i++)
        {
            if (Volatile.Read(ref _words[i]) != 0)
            {
                taken += BitOperations.PopCount(Interlocked.Exchange(ref _words[i], 0));
            }
        }

        return taken;
    }

    private void CheckPage(long page)
    {
        if ((ulong)page >= (ulong)PageCount)
        {
            throw new ArgumentOutOfRangeException(nameof(page), page, $"Page outside the bitmap of {PageCount} pages.");
        }
    }
}
