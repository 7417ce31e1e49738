namespace VmConsole.Server.Api;

/// <summary>
/// query-migrate's <c>xbzrle-cache</c> in camelCase: the cache's size in bytes, the bytes XBZRLE records took, the pages
/// sent as XBZRLE, the cache misses, the last pass's miss rate (0 to 1), its encoding rate (unencoded bytes per encoded
/// byte) and the deltas larger than a page (sent whole).
/// </summary>
public sealed record XbzrleCacheDto(
    long CacheSize, long Bytes, long Pages, long CacheMiss, double CacheMissRate, double EncodingRate, long Overflow);
