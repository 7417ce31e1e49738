using VmConsole.Emulation;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>Migration.GetBlockProgress: per-block sent and remaining bytes, for the UI.</summary>
public sealed class BlockProgressTests
{
    [Fact]
    public async Task GetBlockProgress_AfterCompletion_EveryBlockSentWholeAndNothingRemaining()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 32);
        EngineFixture.FillNonZero(source, 8 * Sizes.MiB);
        var blocks = source.RamBlocks.Where(b => b.Migratable).Select(b => (b.IdStr, b.UsedLength)).ToList();
        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" });

        Assert.True(await EngineFixture.WaitFinishedAsync(migration) == MigrationStatus.Completed, EngineFixture.Describe(migration));

        var progress = migration.GetBlockProgress();
        Assert.Equal(blocks.OrderBy(b => b.IdStr, StringComparer.Ordinal), progress.Select(p => (p.IdStr, p.UsedLength)).OrderBy(b => b.IdStr, StringComparer.Ordinal));
        Assert.All(progress, p =>
        {
            Assert.Equal(0, p.RemainingBytes);
            Assert.True(p.SentBytes >= p.UsedLength, $"{p.IdStr}: sent {p.SentBytes} of {p.UsedLength}");
            Assert.Equal(0, p.SentBytes % 4096);
        });
        var stats = migration.GetStats();
        Assert.Equal((stats.Normal + stats.Duplicate) * 4096, progress.Sum(p => p.SentBytes));
    }

    /// <summary>
    /// At 1 MiB/s against a guest dirtying 8 MiB/s: while it runs, the blocks' remaining bytes add up to ram.remaining
    /// (whenever ram.remaining did not move while the blocks were read), and the sent bytes never run ahead of the pages
    /// counted in normal and duplicate.
    /// </summary>
    [Fact]
    public async Task GetBlockProgress_MidMigrationAtLowBandwidth_SumsAgreeWithRamRemaining()
    {
        await using var fixture = new EngineFixture();
        var migration = fixture.StartNeverConverging("vm1");
        await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.Active, TimeSpan.FromSeconds(10));

        var consistent = 0;
        long firstSent = -1;
        long lastSent = 0;

        // Sampled while the migration runs, until twenty samples caught ram.remaining still and the sent bytes grew.
        await Eventually.Until(
            () =>
            {
                var before = migration.GetStats().Remaining;
                var progress = migration.GetBlockProgress();
                var after = migration.GetStats();
                Assert.Equal(MigrationStatus.Active, after.Status);
                Assert.NotEmpty(progress);
                var sent = progress.Sum(p => p.SentBytes);
                Assert.True(sent <= (after.Normal + after.Duplicate) * 4096, $"sent {sent} bytes, counted {after.Normal + after.Duplicate} pages");
                Assert.All(progress, p => Assert.InRange(p.RemainingBytes, 0, p.UsedLength));
                if (before == after.Remaining)
                {
                    Assert.Equal(after.Remaining, progress.Sum(p => p.RemainingBytes));
                    consistent++;
                }

                firstSent = firstSent < 0 ? sent : firstSent;
                lastSent = sent;
                return consistent >= 20 && lastSent > firstSent;
            },
            TimeSpan.FromSeconds(20),
            () => $"{consistent} samples where ram.remaining held still; sent bytes {firstSent} -> {lastSent}");

        Assert.True(consistent >= 20, $"only {consistent} samples where ram.remaining held still");
        Assert.True(lastSent > firstSent, $"sent bytes did not grow: {firstSent} -> {lastSent}");
        migration.Cancel();
        Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(5)));
    }
}
