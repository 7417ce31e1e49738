using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using Xunit.Abstractions;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// Acceptance point 6, its pacing half: max-bandwidth pacing, checked against a fake clock (the rate this machine
/// reaches is the benchmarks' to measure, not a test's).
/// </summary>
public sealed class PacingTests(ITestOutputHelper output)
{
    /// <summary>
    /// The rate over five seconds may differ from max-bandwidth by 10%. Pacing works in 100 ms windows, so over 5 s
    /// the error from window edges is at most one window's budget (2%); the rest is the 256 KiB flush granularity of
    /// the counter.
    /// </summary>
    private const double Tolerance = 0.10;

    /// <summary>
    /// query-migrate's mbps is measured over the last half second or more, between bursts of one 100 ms window's budget
    /// each, so one burst more or less in the interval moves it by up to a fifth.
    /// </summary>
    private const double MbpsTolerance = 0.25;

    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(100);

    /// <remarks>
    /// The peer is a unix socket that the test drains on its own thread and throws away: an in-process destination
    /// would fault in 192 MiB of fresh memory during the measurement, and on this (virtualised) machine first-touch
    /// page faults cost ~11 µs a page, which measures the machine rather than the pacing.
    /// </remarks>
    [Fact]
    public async Task Migrate_NonZeroVmAt32MiBps_TransfersAt32MiBpsWithin10PercentOverFiveSeconds()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fixture = new EngineFixture(clock);
        // 224 MiB of non-zero pages: at 32 MiB/s the stream takes 7 s, so it is still sending at t = 6 s.
        var source = fixture.CreateVm("paced", 224);
        EngineFixture.FillNonZero(source, source.MemoryBytes);
        await using var peer = DrainingPeer.Listen();
        const long Bandwidth = 32 * Sizes.MiB;
        var migration = fixture.Engine.Start(new MigrationRequest("paced")
        {
            Uri = peer.Uri,
            Parameters = MigrationParameters.Default with { MaxBandwidth = Bandwidth },
        });

        // The fake clock moves one 100 ms window at a time, each once the sender has sent its window's share and waits
        // for the next one, however slow the machine.
        var started = clock.GetTimestamp();
        Task AdvanceToAsync(TimeSpan at) => EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => clock.GetElapsedTime(started) >= at);

        await AdvanceToAsync(TimeSpan.FromSeconds(1));
        var (t1, bytes1) = (clock.GetElapsedTime(started), migration.GetStats().Transferred);
        await AdvanceToAsync(TimeSpan.FromSeconds(6));
        var stats = migration.GetStats();
        var (t2, bytes2) = (clock.GetElapsedTime(started), stats.Transferred);

        var rate = (bytes2 - bytes1) / (t2 - t1).TotalSeconds;
        EngineFixture.Record(output, $"pacing: {rate / Sizes.MiB:F2} MiB/s over {(t2 - t1).TotalSeconds:F2} s ({((rate / Bandwidth) - 1) * 100:F1}% off 32 MiB/s); {bytes1} bytes at 1 s; mbps {stats.Mbps:F0} (32 MiB/s = {Bandwidth * 8 / 1e6:F0})");
        Assert.Equal(MigrationStatus.Active, stats.Status);
        Assert.InRange(rate, Bandwidth * (1 - Tolerance), Bandwidth * (1 + Tolerance));
        Assert.InRange(stats.Mbps, Bandwidth * 8 / 1e6 * (1 - MbpsTolerance), Bandwidth * 8 / 1e6 * (1 + MbpsTolerance));

        migration.Cancel();
        Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(5)));
        Assert.Equal(RunState.Running, source.RunState);
        fixture.AssertLegalHistory(migration);
    }
}
