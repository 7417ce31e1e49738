using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Engine;

/// <summary><see cref="XbzrleSender"/> follows ram.c's <c>save_xbzrle_page</c> and <c>xbzrle_cache_zero_page</c>.</summary>
public sealed class XbzrleSenderTests
{
    private const int PageSize = QemuFormat.TargetPageSize;
    private const long CacheSize = 64 * PageSize;

    private static readonly RamBlockHeader[] Blocks = [new("pc.ram", 32 * PageSize), new("other", 16 * PageSize)];

    private readonly Pipe _pipe = new();
    private readonly MigrationStreamWriter _writer;
    private readonly MigrationCounters _counters = new(48 * PageSize, TimeProvider.System) { XbzrleCacheSize = CacheSize };
    private readonly XbzrleSender _sender;

    public XbzrleSenderTests()
    {
        _writer = new MigrationStreamWriter(_pipe.Writer);
        _writer.WriteHeader();
        _writer.WriteRamSetup(2, Blocks);
        _writer.BeginRamSection(2, end: false);
        _counters.CountSync();
        _sender = new XbzrleSender(_writer, _counters, CacheSize, [.. Blocks.Select(b => b.UsedLength)]);
    }

    [Fact]
    public void TrySend_BeforeTheFirstSync_WholePageAndNoLookup()
    {
        var page = Page(1);

        Assert.False(_sender.TrySend(0, 0, page, out var whole));

        Assert.True(whole == page);
        Assert.Equal(0, _counters.GetStats(Emulation.MigrationStatus.Active, null).XbzrleCache!.CacheMiss);
    }

    [Fact]
    public void TrySend_Miss_InsertedAndSentWholeFromTheCachedCopy()
    {
        Sync();
        var page = Page(1);

        Assert.False(_sender.TrySend(1, 3 * PageSize, page, out var whole));

        // ram address: pc.ram's 32 pages, then page 3 of "other".
        Assert.True(whole == _sender.Cache.Get(35 * PageSize));
        Assert.Equal(page, whole.ToArray());
        Assert.Equal(1, Stats().CacheMiss);
    }

    [Fact]
    public void TrySend_HitUnchanged_NothingWritten()
    {
        Sync();
        _sender.TrySend(0, 0, Page(1), out _);
        var before = _writer.BytesWritten;

        Assert.True(_sender.TrySend(0, 0, Page(1), out _));

        Assert.Equal(before, _writer.BytesWritten);
        Assert.Equal(0, Stats().Pages);
    }

    [Fact]
    public async Task TrySend_HitChanged_XbzrleRecordCountedAndTheCacheUpdated()
    {
        Sync();
        _sender.TrySend(0, 5 * PageSize, Page(1), out _);
        var changed = Page(1);
        changed[100] = 0xAB;
        var before = _writer.BytesWritten;

        Assert.True(_sender.TrySend(0, 5 * PageSize, changed, out _));

        var record = (await WrittenAsync())[(int)before..];
        // The section's first page record: the block's idstr follows the address word.
        Assert.Equal([.. Be64((5 * PageSize) | QemuFormat.RamFlagXbzrle), 6, .. "pc.ram"u8, Xbzrle.EncodingFlag, 0, 3, 100, 1, 0xAB], record);
        Assert.Equal(changed, _sender.Cache.Get(5 * PageSize).ToArray());
        Assert.Equal((1L, record.Length - 8L), (Stats().Pages, Stats().Bytes));
    }

    [Fact]
    public void TrySend_DeltaOverAPage_OverflowAndSentWhole()
    {
        Sync();
        _sender.TrySend(0, 0, Page(1), out _);
        var random = new byte[PageSize];
        new Random(5).NextBytes(random);
        random.AsSpan().Replace((byte)1, (byte)2);

        Assert.False(_sender.TrySend(0, 0, random, out var whole));

        Assert.Equal(random, whole.ToArray());
        Assert.Equal((1L, (long)PageSize, 0L), (Stats().Overflow, Stats().Bytes, Stats().Pages));
    }

    [Fact]
    public void TrySend_LastStage_MissNotInsertedAndHitEncodedWithoutUpdate()
    {
        Sync();
        _sender.TrySend(0, 0, Page(1), out _);
        _sender.LastStage = true;
        var changed = Page(1);
        changed[7] = 9;

        Assert.True(_sender.TrySend(0, 0, changed, out _));
        Assert.False(_sender.TrySend(0, PageSize, Page(2), out var whole));

        Assert.Equal(1, _sender.Cache.Get(0)[0]);
        Assert.Equal(1, _sender.Cache.Get(0)[7]);
        Assert.False(_sender.Cache.IsCached(PageSize, 2));
        Assert.Equal(Page(2), whole.ToArray());
    }

    [Fact]
    public void OnZeroPage_AfterTheFirstSync_CachedAsZeroSoTheNextDeltaIsAgainstZero()
    {
        _sender.OnZeroPage(0, 0);
        Assert.False(_sender.Cache.IsCached(0, 1));
        Sync();
        _sender.TrySend(0, 0, Page(1), out _);

        _sender.OnZeroPage(0, 0);

        Assert.All(_sender.Cache.Get(0).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void OnSync_MissRateAndEncodingRateOfThePass()
    {
        Sync();
        _sender.TrySend(0, 0, Page(1), out _);
        _counters.CountPage(zero: false);
        _sender.TrySend(0, PageSize, Page(1), out _);
        _counters.CountPage(zero: false);
        var changed = Page(1);
        changed[9] = 3;
        _sender.TrySend(0, 0, changed, out _);
        _counters.CountPage(zero: true);

        Sync();

        var stats = Stats();
        Assert.Equal(2.0 / 4, stats.CacheMissRate);
        Assert.Equal(PageSize / (double)stats.Bytes, stats.EncodingRate);
    }

    private void Sync()
    {
        _counters.CountSync();
        _sender.OnSync();
    }

    private XbzrleCacheStats Stats() => _counters.GetStats(Emulation.MigrationStatus.Active, null).XbzrleCache!;

    private async Task<byte[]> WrittenAsync()
    {
        await _writer.FlushAsync(CancellationToken.None);
        var result = await _pipe.Reader.ReadAsync();
        var bytes = result.Buffer.ToArray();
        _pipe.Reader.AdvanceTo(result.Buffer.Start);
        return bytes;
    }

    private static byte[] Be64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] Page(byte fill)
    {
        var page = new byte[PageSize];
        page.AsSpan(0, 64).Fill(fill);
        return page;
    }
}
