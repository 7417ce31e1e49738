namespace VmConsole.Migration.Engine;

/// <summary>
/// query-migrate's <c>xbzrle-cache</c> as QEMU 7.2 reports it: the cache's size, the bytes the XBZRLE records took on
/// the wire (less their 8-byte address words), the pages sent as XBZRLE, the pages looked up and not found, the share
/// of the last pass's pages that missed, the last pass's unencoded bytes per encoded byte, and the deltas that came out
/// larger than a page (sent whole).
/// </summary>
public sealed record XbzrleCacheStats(
    long CacheSize,
    long Bytes,
    long Pages,
    long CacheMiss,
    double CacheMissRate,
    double EncodingRate,
    long Overflow);
