using VmConsole.Emulation;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>The XBZRLE page cache keeps QEMU's rules (migration/page_cache.c).</summary>
public sealed class XbzrleCacheTests
{
    private const int PageSize = VmConsole.Migration.Wire.QemuFormat.TargetPageSize;

    [Theory]
    [InlineData(4096, 1)]
    [InlineData(3 * 4096, 2)]
    [InlineData(64 * Sizes.MiB, 16384)]
    [InlineData((64 * Sizes.MiB) + (5 * 4096), 16384)]
    [InlineData((64 * Sizes.MiB) - 4096, 8192)]
    public void SlotsFor_CacheSize_PagesRoundedDownToAPowerOfTwo(long cacheSize, long slots) =>
        Assert.Equal(slots, XbzrleCache.SlotsFor(cacheSize));

    [Fact]
    public void Slots_CacheLargerThanTheRam_OneSlotPerPageRoundedUp()
    {
        Assert.Equal(4096, new XbzrleCache(64 * Sizes.MiB, 16 * Sizes.MiB).Slots);
        Assert.Equal(4096, new XbzrleCache(64 * Sizes.MiB, (12 * Sizes.MiB) + 1).Slots);
        Assert.Equal(256, new XbzrleCache(Sizes.MiB, 16 * Sizes.MiB).Slots);
    }

    [Fact]
    public void Insert_ThenIsCached_SameAddressHitAndItsCopy()
    {
        var cache = new XbzrleCache(16 * PageSize, Sizes.MiB);
        var page = Page(7);

        Assert.False(cache.IsCached(3 * PageSize, 1));
        Assert.True(cache.Insert(3 * PageSize, page, 1));
        page[0] = 99;

        Assert.True(cache.IsCached(3 * PageSize, 1));
        Assert.Equal(7, cache.Get(3 * PageSize)[0]);
        // Same slot (16 slots), another address: a miss.
        Assert.False(cache.IsCached(19 * PageSize, 1));
        Assert.Equal(1, cache.Filled);
    }

    [Fact]
    public void Insert_AnotherAddressInAFreshSlot_RefusedUntilTwoSyncsLater()
    {
        var cache = new XbzrleCache(16 * PageSize, Sizes.MiB);
        Assert.True(cache.Insert(3 * PageSize, Page(1), 5));

        Assert.False(cache.Insert(19 * PageSize, Page(2), 5));
        Assert.False(cache.Insert(19 * PageSize, Page(2), 6));
        Assert.True(cache.IsCached(3 * PageSize, 6));
        Assert.Equal(1, cache.Get(3 * PageSize)[0]);

        Assert.True(cache.Insert(19 * PageSize, Page(2), 8));
        Assert.False(cache.IsCached(3 * PageSize, 8));
        Assert.True(cache.IsCached(19 * PageSize, 8));
        Assert.Equal(2, cache.Get(19 * PageSize)[0]);
    }

    [Fact]
    public void IsCached_Hit_RenewsTheAgeSoAnotherAddressStaysOut()
    {
        var cache = new XbzrleCache(16 * PageSize, Sizes.MiB);
        Assert.True(cache.Insert(3 * PageSize, Page(1), 1));

        // Found at sync 4: young again, so at sync 5 another address may not take the slot; at sync 6 it may.
        Assert.True(cache.IsCached(3 * PageSize, 4));
        Assert.False(cache.Insert(19 * PageSize, Page(2), 5));
        Assert.True(cache.Insert(19 * PageSize, Page(2), 6));
    }

    [Fact]
    public void Insert_SameAddressFresh_Replaced()
    {
        var cache = new XbzrleCache(16 * PageSize, Sizes.MiB);
        Assert.True(cache.Insert(3 * PageSize, Page(1), 5));

        Assert.True(cache.Insert(3 * PageSize, Page(2), 5));

        Assert.Equal(2, cache.Get(3 * PageSize)[0]);
        Assert.Equal(1, cache.Filled);
    }

    [Fact]
    public void Insert_ManyPages_StorageInChunksOnlyForWhatIsUsed()
    {
        var cache = new XbzrleCache(64 * Sizes.MiB, 64 * Sizes.MiB);
        Assert.Equal(0, cache.AllocatedBytes);

        for (var i = 0; i < 300; i++)
        {
            Assert.True(cache.Insert((long)i * 50 * PageSize, Page((byte)i), 1));
        }

        Assert.Equal(2 * XbzrleCache.PagesPerChunk * PageSize, cache.AllocatedBytes);
        var page = Page(1);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 200; i++)
        {
            cache.Insert((long)i * 50 * PageSize, page, 3);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(299 % 256, cache.Get(299L * 50 * PageSize)[0]);
    }

    private static byte[] Page(byte first)
    {
        var page = new byte[PageSize];
        page[0] = first;
        return page;
    }
}
