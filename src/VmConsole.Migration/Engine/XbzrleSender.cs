using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>
/// The sender's XBZRLE (ram.c <c>save_xbzrle_page</c>, <c>xbzrle_cache_zero_page</c>): once the first full pass is
/// over, each non-zero page is looked up in the <see cref="XbzrleCache"/> by its ram address. A miss inserts the page
/// and has it sent whole from the cached copy (so the cache holds what the destination holds); a hit sends the delta
/// against the cached copy, nothing for an unchanged page, or the page whole when the delta would pass a page. In the
/// last stage (the guest stopped) nothing is inserted or updated. Owned by the sender's worker; not thread-safe.
/// </summary>
/// <remarks>
/// A ram address is QEMU's <c>block-&gt;offset + offset</c>: the used lengths of the blocks before this one in the
/// stream's order, plus the page's offset. The pass that first fills the cache is the second (QEMU sets
/// <c>xbzrle_enabled</c> when its page search wraps round after the first), so deltas go from the third on.
/// </remarks>
internal sealed class XbzrleSender
{
    private const int PageSize = QemuFormat.TargetPageSize;

    /// <summary>QEMU's <c>XBZRLE.zero_target_page</c>: what a zero page is cached as.</summary>
    private static readonly byte[] ZeroPage = new byte[PageSize];

    private readonly MigrationStreamWriter _writer;
    private readonly MigrationCounters _counters;
    private readonly XbzrleCache _cache;
    private readonly long[] _blockAddresses;

    /// <summary>QEMU's <c>XBZRLE.current_buf</c> and <c>encoded_buf</c>: the page as read once, and its delta.</summary>
    private readonly byte[] _current = new byte[PageSize];
    private readonly byte[] _encoded = new byte[Xbzrle.MaxLength];

    /// <param name="usedLengths">Every block's used_length, in the stream's order.</param>
    public XbzrleSender(MigrationStreamWriter writer, MigrationCounters counters, long cacheSize, IReadOnlyList<long> usedLengths)
    {
        _writer = writer;
        _counters = counters;
        _blockAddresses = new long[usedLengths.Count];
        long address = 0;
        for (var i = 0; i < usedLengths.Count; i++)
        {
            _blockAddresses[i] = address;
            address += usedLengths[i];
        }

        _cache = new XbzrleCache(cacheSize, address);
    }

    /// <summary>QEMU's <c>xbzrle_enabled</c>: a full pass is over, so pages go through the cache.</summary>
    public bool Enabled { get; private set; }

    /// <summary>QEMU's <c>last_stage</c>: the guest is stopped for the last pass; the cache is only read.</summary>
    public bool LastStage { get; set; }

    /// <summary>The cache, for tests.</summary>
    internal XbzrleCache Cache => _cache;

    /// <summary>A sync after a full pass: XBZRLE is on from now, and the last pass's rates are computed.</summary>
    public void OnSync()
    {
        Enabled = true;
        _counters.UpdateXbzrleRates();
    }

    /// <summary>A zero page was sent: cache it as zero, so that a stale copy of the page is no base for a delta.</summary>
    public void OnZeroPage(int block, long offset)
    {
        if (Enabled)
        {
            _cache.Insert(_blockAddresses[block] + offset, ZeroPage, _counters.DirtySyncCount);
        }
    }

    /// <summary>
    /// Sends the non-zero page <paramref name="data"/> at <paramref name="offset"/> of <paramref name="block"/> through
    /// the cache: true when it went as an XBZRLE record or needs nothing (unchanged); false when the caller must send
    /// <paramref name="whole"/> as a normal page (a miss, an overflow, or XBZRLE not on yet).
    /// </summary>
    public bool TrySend(int block, long offset, ReadOnlySpan<byte> data, out ReadOnlySpan<byte> whole)
    {
        whole = data;
        if (!Enabled)
        {
            return false;
        }

        var address = _blockAddresses[block] + offset;
        var age = _counters.DirtySyncCount;
        if (!_cache.IsCached(address, age))
        {
            _counters.CountXbzrleCacheMiss();
            if (!LastStage && _cache.Insert(address, data, age))
            {
                // The guest may write the page again before it is sent: send the copy the cache holds.
                whole = _cache.Get(address);
            }

            return false;
        }

        var cached = _cache.Get(address);
        data.CopyTo(_current);
        var length = Xbzrle.Encode(cached, _current, _encoded);
        if (!LastStage && length != 0)
        {
            _current.CopyTo(cached);
            whole = cached;
        }

        if (length == 0)
        {
            return true;
        }

        if (length < 0)
        {
            _counters.CountXbzrleOverflow();
            if (LastStage)
            {
                whole = _current;
            }

            return false;
        }

        var before = _writer.BytesWritten;
        _writer.WriteXbzrlePage(block, offset, _encoded.AsSpan(0, length));
        _counters.CountXbzrlePage(_writer.BytesWritten - before);
        return true;
    }
}
