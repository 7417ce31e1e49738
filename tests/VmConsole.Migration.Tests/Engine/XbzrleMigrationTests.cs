using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;
using Xunit.Abstractions;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>Console to console with the xbzrle capability: deltas on the wire, fewer bytes, the memory equal.</summary>
[Collection(TimingCollection.Name)]
public sealed class XbzrleMigrationTests(ITestOutputHelper output)
{
    private static readonly MigrationParameters Parameters = MigrationParameters.Default with
    {
        MaxBandwidth = 8 * Sizes.MiB,
        DowntimeLimit = 100,
        XbzrleCacheSize = 16 * Sizes.MiB,
    };

    /// <remarks>
    /// A 64 MiB guest with 16 MiB of data that keeps writing one word at a time into pages of those 16 MiB at 2,000
    /// pages/s, 80% of them into a hot fifth, migrated at 8 MiB/s on a fake clock (see
    /// <see cref="EngineFixture.RunClockUntilAsync"/>): the first pass takes two seconds, the second sends the pages
    /// dirtied meanwhile (whole, filling the cache), and from the third the pages dirtied again go as deltas of a few
    /// bytes. Without XBZRLE the same guest converges too, only after more passes of whole pages (measured: about 25 MB
    /// on the wire in 5-6 syncs with XBZRLE, 36-38 MB in 9-10 without).
    /// </remarks>
    [Fact]
    public async Task Migrate_HotSetWithXbzrle_DeltasSentFewerBytesAndMemoryVerified()
    {
        var with = await MigrateAsync(xbzrle: true);
        var without = await MigrateAsync(xbzrle: false);

        var cache = with.XbzrleCache;
        EngineFixture.Record(output, $"with xbzrle: transferred {with.Transferred}, syncs {with.DirtySyncCount}, normal {with.Normal}, duplicate {with.Duplicate}, " +
            $"xbzrle {cache}; without: transferred {without.Transferred}, syncs {without.DirtySyncCount}, normal {without.Normal}, duplicate {without.Duplicate}");
        Assert.NotNull(cache);
        Assert.Null(without.XbzrleCache);
        Assert.Equal(Parameters.XbzrleCacheSize, cache.CacheSize);
        Assert.True(cache.Pages > 0, $"no XBZRLE page: {cache}");
        Assert.True(cache.CacheMiss > 0, $"no cache miss: {cache}");
        Assert.True(cache.Bytes > 0 && cache.Bytes < cache.Pages * 4096, $"{cache.Bytes} bytes for {cache.Pages} pages");
        Assert.InRange(cache.CacheMissRate, 0, 1);
        Assert.True(cache.EncodingRate >= 0, $"{cache}");
        Assert.InRange(cache.Overflow, 0, cache.CacheMiss);
        Assert.True(with.DirtySyncCount >= 4, $"{with.DirtySyncCount} syncs: XBZRLE sends deltas from the third pass");
        Assert.True(with.Transferred < without.Transferred * 0.85, $"{with.Transferred} bytes with XBZRLE, {without.Transferred} without");
    }

    [Fact]
    public async Task GetStats_XbzrleOnBeforeAnyPass_CacheSizeAndZeros()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fixture = new EngineFixture(clock);
        var migration = fixture.StartNeverConverging("idle", MigrationCapabilities.Default with { Xbzrle = true });

        var stats = migration.GetStats();

        Assert.Equal(new XbzrleCacheStats(MigrationParameters.Default.XbzrleCacheSize, 0, 0, 0, 0, 0, 0), stats.XbzrleCache);
        migration.Cancel();
        await EngineFixture.WaitFinishedAsync(migration);
    }

    private async Task<MigrationStats> MigrateAsync(bool xbzrle)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fixture = new EngineFixture(clock);
        var source = fixture.CreateVm("hot", 64, new WorkloadSpec(WorkloadKind.Hotspot, 2_000, 16 * Sizes.MiB));
        EngineFixture.FillNonZero(source, 16 * Sizes.MiB);
        PrecopyMigration? migration = null;
        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => source.Workload.PagesWritten >= 500);

        migration = fixture.Engine.Start(new MigrationRequest("hot")
        {
            DestinationHost = "host-b",
            Parameters = Parameters,
            Capabilities = MigrationCapabilities.Default with { Xbzrle = xbzrle },
        });
        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => migration.Finished.IsCompleted);
        var status = await EngineFixture.WaitFinishedAsync(migration);

        Assert.True(status == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.True(migration.Verified, $"xbzrle {xbzrle}: the destination's memory differs from the source's");
        fixture.AssertLegalHistory(migration);
        return migration.GetStats();
    }
}
