namespace VmConsole.Migration.Engine;

/// <summary>query-migrate's <c>xbzrle-cache</c>, as ram.c counts it (<c>xbzrle_counters</c>, <c>migration_update_rates</c>).</summary>
internal sealed partial class MigrationCounters
{
    // Written with Interlocked by the sender, read by anyone without a lock.
    private long _xbzrleBytes;
    private long _xbzrlePages;
    private long _xbzrleCacheMiss;
    private long _xbzrleOverflow;
    private double _xbzrleCacheMissRate;
    private double _xbzrleEncodingRate;

    // The counts at the previous sync: written and read by the sender only.
    private long _xbzrleMissAtSync;
    private long _xbzrlePagesAtSync;
    private long _xbzrleBytesAtSync;
    private long _pagesAtSync;

    /// <summary>With the xbzrle capability, xbzrle-cache-size: the figures are reported; null without it.</summary>
    public long? XbzrleCacheSize { get; init; }

    /// <summary>A page sent as an XBZRLE record of <paramref name="recordBytes"/> bytes (QEMU counts them less the 8-byte address word).</summary>
    public void CountXbzrlePage(long recordBytes)
    {
        Interlocked.Increment(ref _xbzrlePages);
        Interlocked.Add(ref _xbzrleBytes, recordBytes - sizeof(ulong));
    }

    /// <summary>A page looked up in the cache and not found.</summary>
    public void CountXbzrleCacheMiss() => Interlocked.Increment(ref _xbzrleCacheMiss);

    /// <summary>A delta larger than a page: the page goes whole, and QEMU adds a page to the XBZRLE bytes.</summary>
    public void CountXbzrleOverflow()
    {
        Interlocked.Increment(ref _xbzrleOverflow);
        Interlocked.Add(ref _xbzrleBytes, Wire.QemuFormat.TargetPageSize);
    }

    /// <summary>
    /// At a sync: the share of the pages sent since the previous one (zero, normal and XBZRLE) that missed the cache,
    /// and the XBZRLE pages' unencoded bytes per encoded byte over the same pass (0 when it sent none). As in QEMU,
    /// nothing changes after a pass that sent no page.
    /// </summary>
    public void UpdateXbzrleRates()
    {
        var miss = Interlocked.Read(ref _xbzrleCacheMiss);
        var xbzrlePages = Interlocked.Read(ref _xbzrlePages);
        var xbzrleBytes = Interlocked.Read(ref _xbzrleBytes);
        var pages = Interlocked.Read(ref _zeroPages) + Interlocked.Read(ref _normalPages) + xbzrlePages;
        var passPages = pages - _pagesAtSync;
        if (passPages == 0)
        {
            return;
        }

        Interlocked.Exchange(ref _xbzrleCacheMissRate, (double)(miss - _xbzrleMissAtSync) / passPages);
        var encoded = xbzrleBytes - _xbzrleBytesAtSync;
        var unencoded = (double)(xbzrlePages - _xbzrlePagesAtSync) * Wire.QemuFormat.TargetPageSize;
        Interlocked.Exchange(ref _xbzrleEncodingRate, xbzrlePages == _xbzrlePagesAtSync || encoded == 0 ? 0 : unencoded / encoded);
        _xbzrleMissAtSync = miss;
        _xbzrlePagesAtSync = xbzrlePages;
        _xbzrleBytesAtSync = xbzrleBytes;
        _pagesAtSync = pages;
    }

    private XbzrleCacheStats? GetXbzrleStats() => XbzrleCacheSize is not { } size
        ? null
        : new XbzrleCacheStats(
            size,
            Interlocked.Read(ref _xbzrleBytes),
            Interlocked.Read(ref _xbzrlePages),
            Interlocked.Read(ref _xbzrleCacheMiss),
            Volatile.Read(ref _xbzrleCacheMissRate),
            Volatile.Read(ref _xbzrleEncodingRate),
            Interlocked.Read(ref _xbzrleOverflow));
}
