using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;
using Xunit.Abstractions;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>Acceptance points 1 and 3: downtime within the limit; dirty rate against bandwidth, with and without auto-converge.</summary>
[Collection(TimingCollection.Name)]
public sealed class ConvergenceTests(ITestOutputHelper output)
{
    /// <summary>
    /// Downtime may exceed downtime-limit by this much. The engine stops the guest once the pending bytes fit in the
    /// measured bandwidth x the limit, so the last pass alone stays within it; the downtime it reports also holds
    /// draining the in-process pipe, the verification compare and starting the destination, which take no time on the
    /// fake clock these tests run on but real time in the console.
    /// </summary>
    private const long DowntimeToleranceMs = 300;

    /// <remarks>
    /// On a fake clock (see <see cref="EngineFixture.RunClockUntilAsync"/>): the dirty rate, the bandwidth and the
    /// downtime the engine reports are the set ones and its own, not how fast this machine copies and verifies.
    /// </remarks>
    [Fact]
    public async Task Migrate_512MiBQ35WithUniform20kPagesPerSecondAt1GiBps_CompletesVerifiedWithinDowntimeLimit()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fixture = new EngineFixture(clock);
        var source = fixture.CreateVm("big", 512, new WorkloadSpec(WorkloadKind.Uniform, 20_000));
        PrecopyMigration? migration = null;

        // Let the guest run for a second first, so that ~20,000 pages (~78 MiB) hold data when precopy starts.
        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => source.Workload.PagesWritten >= 20_000);
        var parameters = MigrationParameters.Default with { MaxBandwidth = Sizes.GiB };
        Assert.Equal(300, parameters.DowntimeLimit);

        migration = fixture.Engine.Start(new MigrationRequest("big") { DestinationHost = "host-b", Parameters = parameters });
        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => migration.Finished.IsCompleted);
        var status = await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(60));

        var stats = migration.GetStats();
        EngineFixture.Record(output, $"downtime {stats.Downtime} ms, total {stats.TotalTime} ms, setup {stats.SetupTime} ms, syncs {stats.DirtySyncCount}, " +
            $"transferred {stats.Transferred}, downtime bytes {stats.DowntimeBytes}, normal {stats.Normal}, duplicate {stats.Duplicate}");
        Assert.True(status == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.True(migration.Verified);
        Assert.NotNull(stats.Downtime);
        Assert.InRange(stats.Downtime!.Value, 0, parameters.DowntimeLimit + DowntimeToleranceMs);
        Assert.True(stats.DowntimeBytes <= parameters.MaxBandwidth * (parameters.DowntimeLimit + DowntimeToleranceMs) / 1000, $"{stats.DowntimeBytes} bytes sent with the guest stopped");
        Assert.Equal(0, stats.Remaining);
        Assert.True(stats.Transferred >= stats.Normal * 4096, $"{stats.Transferred} < {stats.Normal} pages");
        var moved = fixture.Emulator.GetVm("big");
        Assert.NotSame(source, moved);
        Assert.Equal("host-b", moved.Host.Name);
        Assert.Equal(RunState.Running, moved.RunState);
        fixture.AssertLegalHistory(migration);
        fixture.AssertNoIncoming();
    }

    /// <remarks>
    /// On a fake clock (see <see cref="EngineFixture.RunClockUntilAsync"/>): the dirty rate and the bandwidth it compares
    /// are the set ones, not what this machine manages while other tests run.
    /// </remarks>
    [Fact]
    public async Task Migrate_DirtyRateAboveBandwidthWithoutAutoConverge_StaysActiveWithExpectedDowntimeAboveLimit()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fixture = new EngineFixture(clock);
        // 50,000 random pages/s over 128 MiB dirties ~195 MiB/s, six times the 32 MiB/s the link may carry.
        const long PagesPerSecond = 50_000;
        var source = fixture.CreateVm("hot", 128, new WorkloadSpec(WorkloadKind.Uniform, PagesPerSecond));
        var parameters = MigrationParameters.Default with { MaxBandwidth = 32 * Sizes.MiB };
        PrecopyMigration? migration = null;
        Task RunUntilAsync(Func<bool> done) => EngineFixture.RunClockUntilAsync(clock, source, () => migration, done);

        await RunUntilAsync(() => source.Workload.PagesWritten >= 2 * 32768);
        migration = fixture.Engine.Start(new MigrationRequest("hot") { DestinationHost = "host-b", Parameters = parameters });

        // A few seconds and at least one completed pass (expected-downtime is computed after each pass; the setup's
        // bitmap sync is the first of dirty-sync-count, a pass's the second).
        var started = clock.GetTimestamp();
        var stats = migration.GetStats();
        await RunUntilAsync(() =>
        {
            stats = migration.GetStats();
            return stats.Status is not (MigrationStatus.Setup or MigrationStatus.Active) || (stats.DirtySyncCount >= 2 && clock.GetElapsedTime(started) >= TimeSpan.FromSeconds(3));
        });

        EngineFixture.Record(output, $"no auto-converge after {stats.TotalTime} ms: expected downtime {stats.ExpectedDowntime} ms, syncs {stats.DirtySyncCount}, remaining {stats.Remaining}, dirty rate {stats.DirtyPagesRate:F0} pages/s, mbps {stats.Mbps:F0}");
        Assert.Equal(MigrationStatus.Active, stats.Status);
        Assert.Equal([MigrationStatus.Setup, MigrationStatus.Active], migration.Events.Select(e => e.Status));
        Assert.NotNull(stats.ExpectedDowntime);
        Assert.True(stats.ExpectedDowntime > parameters.DowntimeLimit, $"expected downtime {stats.ExpectedDowntime} ms");
        Assert.Equal(0, stats.CpuThrottlePercentage);
        Assert.Empty(migration.ThrottleSteps);

        migration.Cancel();
        Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(5)));
        Assert.Same(source, fixture.Emulator.GetVm("hot"));
        Assert.Equal(RunState.Running, source.RunState);
        Assert.Equal(0, source.Workload.ThrottlePercent);
        fixture.AssertLegalHistory(migration);
        fixture.AssertNoIncoming();
    }

    /// <remarks>On a fake clock (see <see cref="EngineFixture.RunClockUntilAsync"/>): the throttle steps follow the set rates.</remarks>
    [Fact]
    public async Task Migrate_DirtyRateAboveBandwidthWithAutoConverge_ThrottlesBy20Then10PerPassAndCompletes()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fixture = new EngineFixture(clock);
        // 50,000 random pages/s over a 16 MiB working set of a 128 MiB VM: 6x the 32 MiB/s link, and a pass over the
        // working set takes ~0.5 s, so the throttle needs about eight passes (to 90%) before the rest fits in 300 ms.
        var source = fixture.CreateVm("hot", 128, new WorkloadSpec(WorkloadKind.Uniform, 50_000, 16 * Sizes.MiB));
        PrecopyMigration? migration = null;
        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => source.Workload.PagesWritten >= 2 * 4096);
        var parameters = MigrationParameters.Default with { MaxBandwidth = 32 * Sizes.MiB };
        migration = fixture.Engine.Start(new MigrationRequest("hot")
        {
            DestinationHost = "host-b",
            Parameters = parameters,
            Capabilities = MigrationCapabilities.Default with { AutoConverge = true },
        });

        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => migration.Finished.IsCompleted);
        var status = await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(60));

        var stats = migration.GetStats();
        var steps = migration.ThrottleSteps;
        EngineFixture.Record(output, $"auto-converge: {EngineFixture.Describe(migration)} in {stats.TotalTime} ms, syncs {stats.DirtySyncCount}, downtime {stats.Downtime} ms, throttle steps [{string.Join(", ", steps)}]");
        Assert.True(status == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.True(migration.Verified);
        Assert.True(steps.Count >= 3, $"throttle steps [{string.Join(", ", steps)}]");
        Assert.Equal(parameters.CpuThrottleInitial, steps[0]);
        for (var i = 1; i < steps.Count; i++)
        {
            Assert.Equal(Math.Min(steps[i - 1] + parameters.CpuThrottleIncrement, parameters.MaxCpuThrottle), steps[i]);
        }

        Assert.Equal(0, stats.CpuThrottlePercentage);
        var moved = fixture.Emulator.GetVm("hot");
        Assert.Equal("host-b", moved.Host.Name);
        Assert.Equal(0, moved.Workload.ThrottlePercent);
        fixture.AssertLegalHistory(migration);
        fixture.AssertNoIncoming();
    }

    /// <remarks>On a fake clock (see <see cref="EngineFixture.RunClockUntilAsync"/>): the throttle steps follow the set rates.</remarks>
    [Fact]
    public async Task Migrate_AutoConvergeWithLargeIncrement_StopsAtMaxCpuThrottle()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fixture = new EngineFixture(clock);
        // 200,000 pages/s over 16 MiB: still above the link at 80% and 95% throttle, so the third step hits the cap.
        var source = fixture.CreateVm("hot", 128, new WorkloadSpec(WorkloadKind.Uniform, 200_000, 16 * Sizes.MiB));
        PrecopyMigration? migration = null;
        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => source.Workload.PagesWritten >= 2 * 4096);
        var parameters = MigrationParameters.Default with { MaxBandwidth = 32 * Sizes.MiB, CpuThrottleInitial = 80, CpuThrottleIncrement = 15, MaxCpuThrottle = 99 };
        migration = fixture.Engine.Start(new MigrationRequest("hot")
        {
            DestinationHost = "host-b",
            Parameters = parameters,
            Capabilities = MigrationCapabilities.Default with { AutoConverge = true },
        });

        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => migration.Finished.IsCompleted);
        var status = await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(60));

        var steps = migration.ThrottleSteps;
        EngineFixture.Record(output, $"auto-converge 80/+15/99: {EngineFixture.Describe(migration)}, throttle steps [{string.Join(", ", steps)}]");
        Assert.True(status == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.True(steps.Count >= 3, $"throttle steps [{string.Join(", ", steps)}]");
        Assert.Equal([80, 95, 99], steps.Take(3));
        Assert.All(steps.Skip(3), step => Assert.Equal(99, step));
        fixture.AssertLegalHistory(migration);
        fixture.AssertNoIncoming();
    }
}
