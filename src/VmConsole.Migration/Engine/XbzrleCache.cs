using System.Numerics;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>
/// QEMU's XBZRLE page cache (migration/page_cache.c): direct-mapped by ram address (slot = address / page size, masked
/// to the number of slots), each item with its address, its age (the dirty sync count when it was last inserted or
/// found) and a copy of the page as the destination holds it.
/// </summary>
/// <remarks>
/// <para>
/// The slots are <c>xbzrle-cache-size</c> / page size, rounded down to a power of two, and never more than it takes
/// to give every page of the migrated RAM its own slot (a larger cache would map the same pages to the same slots, and
/// QEMU's would too, only with memory it never touches).
/// </para>
/// <para>
/// The page copies live in chunks of <see cref="PagesPerChunk"/> pages, each allocated on the first insert that needs
/// it and given out in the order items are first filled (QEMU's <c>num_items</c>): memory only for what is used, and
/// no allocation per page. Owned by the sender's worker; not thread-safe.
/// </para>
/// </remarks>
internal sealed class XbzrleCache
{
    /// <summary>QEMU's <c>CACHED_PAGE_LIFETIME</c>: an item is not replaced by another address within two syncs.</summary>
    public const long CachedPageLifetime = 2;

    /// <summary>Pages per storage chunk (1 MiB).</summary>
    public const int PagesPerChunk = 256;

    private const int PageSize = QemuFormat.TargetPageSize;

    private readonly long[] _addresses;
    private readonly long[] _ages;

    /// <summary>Per slot: the index of its page copy in the chunks, -1 before its first insert.</summary>
    private readonly int[] _storage;

    private readonly byte[]?[] _chunks;
    private int _filled;

    /// <param name="cacheSize">xbzrle-cache-size in bytes (at least one page).</param>
    /// <param name="ramBytes">The migrated RAM's size: the ram addresses are below it.</param>
    public XbzrleCache(long cacheSize, long ramBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cacheSize, PageSize);
        ArgumentOutOfRangeException.ThrowIfNegative(ramBytes);
        var slots = SlotsFor(cacheSize);
        var ramPages = Math.Max(1, (ramBytes + PageSize - 1) / PageSize);
        Slots = (int)Math.Min(slots, (long)BitOperations.RoundUpToPowerOf2((ulong)ramPages));
        _addresses = new long[Slots];
        _addresses.AsSpan().Fill(-1);
        _ages = new long[Slots];
        _storage = new int[Slots];
        _storage.AsSpan().Fill(-1);
        _chunks = new byte[]?[(Slots + PagesPerChunk - 1) / PagesPerChunk];
    }

    /// <summary>QEMU's slot count for a cache size: size / page size, rounded down to a power of two.</summary>
    public static long SlotsFor(long cacheSize) => 1L << BitOperations.Log2((ulong)(cacheSize / PageSize));

    /// <summary>The slots this cache has.</summary>
    public int Slots { get; }

    /// <summary>Slots holding a page (QEMU's <c>num_items</c>).</summary>
    public int Filled => _filled;

    /// <summary>Bytes of page copies allocated so far.</summary>
    public long AllocatedBytes => _chunks.Sum(c => (long)(c?.Length ?? 0));

    /// <summary>
    /// QEMU's <c>cache_is_cached</c>: whether the slot for <paramref name="address"/> holds that address; a hit makes
    /// the item's age <paramref name="currentAge"/>, so a page in use is not replaced.
    /// </summary>
    public bool IsCached(long address, long currentAge)
    {
        var slot = SlotOf(address);
        if (_addresses[slot] != address)
        {
            return false;
        }

        _ages[slot] = currentAge;
        return true;
    }

    /// <summary>
    /// QEMU's <c>cache_insert</c>: copies <paramref name="page"/> into the slot for <paramref name="address"/> with age
    /// <paramref name="currentAge"/>; false (nothing changed) when the slot holds another address inserted or found
    /// less than <see cref="CachedPageLifetime"/> syncs ago.
    /// </summary>
    public bool Insert(long address, ReadOnlySpan<byte> page, long currentAge)
    {
        if (page.Length != PageSize)
        {
            throw new ArgumentException($"A cached page has {PageSize} bytes, not {page.Length}.", nameof(page));
        }

        var slot = SlotOf(address);
        if (_storage[slot] >= 0 && _addresses[slot] != address && _ages[slot] + CachedPageLifetime > currentAge)
        {
            return false;
        }

        if (_storage[slot] < 0)
        {
            _storage[slot] = _filled++;
        }

        page.CopyTo(Page(slot));
        _ages[slot] = currentAge;
        _addresses[slot] = address;
        return true;
    }

    /// <summary>QEMU's <c>get_cached_data</c>: the page copy of the slot for <paramref name="address"/> (check <see cref="IsCached"/> first).</summary>
    public Span<byte> Get(long address)
    {
        var slot = SlotOf(address);
        if (_addresses[slot] != address)
        {
            throw new InvalidOperationException($"The page at ram address 0x{address:x} is not cached.");
        }

        return Page(slot);
    }

    private int SlotOf(long address)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(address);
        return (int)((address / PageSize) & (Slots - 1));
    }

    private Span<byte> Page(int slot)
    {
        var index = _storage[slot];
        var chunk = _chunks[index / PagesPerChunk] ??= new byte[Math.Min(PagesPerChunk, Slots - (index / PagesPerChunk * PagesPerChunk)) * PageSize];
        return chunk.AsSpan(index % PagesPerChunk * PageSize, PageSize);
    }
}
