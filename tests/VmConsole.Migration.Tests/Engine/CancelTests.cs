using System.Net.Sockets;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// Acceptance point 4: cancel in setup, active and pre-switchover, 100 times each, and the freeze through cancelling.
/// </summary>
public sealed class CancelTests
{
    private const int Repetitions = 100;

    /// <summary>From Cancel() to the worker having quit, cancelled, with the source resumed and the destination gone.</summary>
    private static readonly TimeSpan CancelBound = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan ReachBound = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Every run is held in setup: the transport takes the block list but its flush returns only when the migration's
    /// token fires, so the worker cannot reach active, and the cancel always lands in setup.
    /// </summary>
    [Fact]
    public async Task Cancel_InSetup_100Times_RefusesFreezeChangesWhileCancellingAndAcceptsThemAfter()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, new WorkloadSpec(WorkloadKind.Uniform, 2_000), machine: "microvm");
        var channels = GatedChannels.Install(fixture.Engine, holdFlushes: true);
        for (var i = 0; i < Repetitions; i++)
        {
            var migration = fixture.StartNeverConverging("vm1");
            var writer = await channels.For(migration).WaitAsync(ReachBound);
            await writer.FlushEntered.WaitAsync(ReachBound);
            Assert.Equal(MigrationStatus.Setup, migration.Status);

            var whileCancelling = await CancelObservingTheFreezeAsync(migration, source, writer);
            await EngineFixture.WaitFinishedAsync(migration, CancelBound);

            AssertRefusedWhileCancelling(whileCancelling, migration, i);
            Assert.Equal([MigrationStatus.Setup, MigrationStatus.Cancelling, MigrationStatus.Cancelled], migration.Events.Select(e => e.Status));
            AssertCancelledCleanly(fixture, source, migration, i);
        }
    }

    [Fact]
    public async Task Cancel_InActive_100Times_RefusesFreezeChangesWhileCancellingAndAcceptsThemAfter()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, new WorkloadSpec(WorkloadKind.Uniform, 2_000), machine: "microvm");
        var channels = GatedChannels.Install(fixture.Engine, holdFlushes: false);
        for (var i = 0; i < Repetitions; i++)
        {
            var migration = fixture.StartNeverConverging("vm1");
            await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.Active, ReachBound);

            var whileCancelling = await CancelObservingTheFreezeAsync(migration, source, await channels.For(migration).WaitAsync(ReachBound));
            await EngineFixture.WaitFinishedAsync(migration, CancelBound);

            AssertRefusedWhileCancelling(whileCancelling, migration, i);
            Assert.Equal([MigrationStatus.Setup, MigrationStatus.Active, MigrationStatus.Cancelling, MigrationStatus.Cancelled], migration.Events.Select(e => e.Status));
            AssertCancelledCleanly(fixture, source, migration, i);
        }
    }

    [Fact]
    public async Task Cancel_InPreSwitchover_100Times_RefusesFreezeChangesWhileCancellingAndAcceptsThemAfter()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, machine: "microvm");
        var channels = GatedChannels.Install(fixture.Engine, holdFlushes: false);
        for (var i = 0; i < Repetitions; i++)
        {
            var migration = fixture.Engine.Start(new MigrationRequest("vm1")
            {
                DestinationHost = "host-b",
                Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true },
            });
            await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.PreSwitchover, ReachBound);

            var whileCancelling = await CancelObservingTheFreezeAsync(migration, source, await channels.For(migration).WaitAsync(ReachBound));
            await EngineFixture.WaitFinishedAsync(migration, CancelBound);

            AssertRefusedWhileCancelling(whileCancelling, migration, i);
            Assert.Equal(
                [MigrationStatus.Setup, MigrationStatus.Active, MigrationStatus.PreSwitchover, MigrationStatus.Cancelling, MigrationStatus.Cancelled],
                migration.Events.Select(e => e.Status));
            AssertCancelledCleanly(fixture, source, migration, i);
        }
    }

    [Fact]
    public async Task Cancel_AfterAutoConvergeThrottledTheGuest_TakesTheThrottleOff()
    {
        await using var fixture = new EngineFixture();
        // 20,000 random pages/s (78 MiB/s) over 16 MiB against 16 MiB/s: every pass ends with more dirty than it sent.
        var source = fixture.CreateVm("vm1", 16, new WorkloadSpec(WorkloadKind.Uniform, 20_000), machine: "microvm");
        // Until (nearly) every page holds data, or the first pass would find zero pages and converge at once.
        await EngineFixture.WaitForPagesWrittenAsync(source, 2 * 4096);

        var migration = fixture.Engine.Start(new MigrationRequest("vm1")
        {
            DestinationHost = "host-b",
            Parameters = MigrationParameters.Default with { MaxBandwidth = 16 * Sizes.MiB },
            Capabilities = MigrationCapabilities.Default with { AutoConverge = true },
        });
        var throttled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        migration.Progress += m =>
        {
            if (m.GetStats().CpuThrottlePercentage > 0)
            {
                throttled.TrySetResult();
            }
        };
        await Task.WhenAny(throttled.Task, migration.Finished).WaitAsync(ReachBound);
        Assert.True(throttled.Task.IsCompleted, EngineFixture.Describe(migration));
        Assert.True(source.Workload.ThrottlePercent >= 20);

        migration.Cancel();

        Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(migration, CancelBound));
        Assert.Equal(0, source.Workload.ThrottlePercent);
        Assert.Equal(0, migration.GetStats().CpuThrottlePercentage);
        Assert.Equal(20, migration.ThrottleSteps[0]);
        AssertCancelledCleanly(fixture, source, migration, 0);
    }

    /// <summary>
    /// The worker is stuck in a write: the peer accepted the connection but never reads, so the socket's buffers fill
    /// and the sender waits on backpressure. Cancelling holds the freeze until that worker has let go; the change is
    /// refused at the moment the status is cancelling and accepted at the moment it is cancelled.
    /// </summary>
    [Fact]
    public async Task Cancel_WhileTheSenderIsBlockedOnAPeerThatDoesNotRead_FreezeHoldsThroughCancellingAndLiftsAtCancelled()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 64);
        EngineFixture.FillNonZero(source, 16 * Sizes.MiB);
        var channels = GatedChannels.Install(fixture.Engine, holdFlushes: false);
        var path = EngineFixture.TempSocketPath();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        try
        {
            var migration = fixture.Engine.Start(new MigrationRequest("vm1") { Uri = "unix:" + path, Parameters = MigrationParameters.Default with { MaxBandwidth = 0 } });
            using var accepted = await listener.AcceptAsync().WaitAsync(ReachBound);
            var writer = await channels.For(migration).WaitAsync(ReachBound);

            // Whatever fails below, the worker must not stay held where it ends the stream, or the fixture's disposal
            // times out and hides the failure.
            using var release = new ReleaseOnExit(writer);
            await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.Active, ReachBound);

            // Stuck: once the socket's buffers are full, nothing more gets through for half a second, far from the
            // ~16.5 MiB the stream needs. (Filling them can take a moment on a busy machine: wait for the stall.)
            var stats = await WaitUntilStuckAsync(migration);
            Assert.Equal(MigrationStatus.Active, stats.Status);
            Assert.True(stats.Transferred < 8 * Sizes.MiB, $"{stats.Transferred} bytes got through");

            Exception? atCancelled = new InvalidOperationException("the cancelled event was not seen");
            migration.StatusChanged += (_, status) =>
            {
                if (status == MigrationStatus.Cancelled)
                {
                    atCancelled = Record.Exception(() =>
                    {
                        source.SetMigratable(source.MainRam.Id, false);
                        source.SetMigratable(source.MainRam.Id, true);
                    });
                }
            };
            var whileCancelling = await CancelObservingTheFreezeAsync(migration, source, writer);
            await EngineFixture.WaitFinishedAsync(migration, CancelBound);

            AssertRefusedWhileCancelling(whileCancelling, migration, 0);
            Assert.Null(atCancelled);
            Assert.Equal([MigrationStatus.Setup, MigrationStatus.Active, MigrationStatus.Cancelling, MigrationStatus.Cancelled], migration.Events.Select(e => e.Status));
            Assert.Null(migration.ErrorDesc);
            AssertCancelledCleanly(fixture, source, migration, 0);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The statistics once nothing more has got through for half a second (at most <see cref="ReachBound"/>).</summary>
    private static async Task<MigrationStats> WaitUntilStuckAsync(PrecopyMigration migration)
    {
        var started = TimeProvider.System.GetTimestamp();
        var stats = migration.GetStats();
        while (true)
        {
            await Task.Delay(500);
            var now = migration.GetStats();
            if (now.Transferred == stats.Transferred || TimeProvider.System.GetElapsedTime(started) > ReachBound)
            {
                return now;
            }

            stats = now;
        }
    }

    private sealed class ReleaseOnExit(GatedWriter writer) : IDisposable
    {
        public void Dispose() => writer.Release();
    }

    /// <summary>
    /// Cancels, then probes the freeze once the worker has seen its token fire and is unwinding: it is held (by the
    /// <see cref="GatedWriter"/>) where it completes the stream with the error, before it lets go of the block list.
    /// That is the moment the freeze must still refuse. Releases the worker afterwards, whatever happened.
    /// </summary>
    private static async Task<FreezeProbe> CancelObservingTheFreezeAsync(PrecopyMigration migration, Vm source, GatedWriter writer)
    {
        var probe = new FreezeProbe { CancelledAt = TimeProvider.System.GetTimestamp() };
        try
        {
            migration.Cancel();
            await writer.Unwinding.WaitAsync(CancelBound);
            probe.TokenFired = migration.CancellationToken.IsCancellationRequested;
            probe.WorkerQuit = migration.Finished.IsCompleted;
            probe.StatusSeen = migration.Status;
            probe.Frozen = source.Freeze.IsFrozen;
            probe.Error = Record.Exception(() => source.SetMigratable(source.MainRam.Id, false));
        }
        finally
        {
            writer.Release();
        }

        return probe;
    }

    private static void AssertRefusedWhileCancelling(FreezeProbe probe, PrecopyMigration migration, int run)
    {
        Assert.True(probe.TokenFired, $"run {run}: the worker unwound before its token fired");
        Assert.False(probe.WorkerQuit, $"run {run}: the worker had quit before the probe");
        Assert.True(probe.StatusSeen == MigrationStatus.Cancelling, $"run {run}: the probe saw {probe.StatusSeen}");
        Assert.True(probe.Frozen, $"run {run}: the freeze had lifted in cancelling");
        var refusal = Assert.IsType<MigratableSetFrozenException>(probe.Error);
        Assert.Equal("cancelling", refusal.MigrationStatus);
        Assert.Equal(migration.Id, refusal.MigrationId);
        Assert.Equal("unset migratable on", refusal.Operation);
        Assert.True(TimeProvider.System.GetElapsedTime(probe.CancelledAt) < CancelBound + TimeSpan.FromSeconds(1));
    }

    /// <summary>Cancelled, the source running under its name on host-a, nothing on host-b, and the set unfrozen.</summary>
    private static void AssertCancelledCleanly(EngineFixture fixture, Vm source, PrecopyMigration migration, int run)
    {
        Assert.True(migration.Status == MigrationStatus.Cancelled, $"run {run}: {EngineFixture.Describe(migration)}");
        Assert.True(migration.Finished.IsCompletedSuccessfully);
        Assert.Same(source, fixture.Emulator.GetVm(source.Name));
        Assert.Equal("host-a", source.Host.Name);
        Assert.Equal(RunState.Running, source.RunState);
        Assert.Equal(0, source.Workload.ThrottlePercent);
        var hostB = fixture.Emulator.GetHost("host-b");
        Assert.Empty(fixture.Emulator.IncomingOn(hostB));
        Assert.Equal(0, hostB.ReservedBytes);
        Assert.False(source.Freeze.IsFrozen, $"run {run}: the freeze outlived the worker");

        // After cancelled, the same change is accepted (and undone for the next run).
        source.SetMigratable(source.MainRam.Id, false);
        Assert.False(source.MainRam.Migratable);
        source.SetMigratable(source.MainRam.Id, true);
        fixture.AssertLegalHistory(migration);
    }

    private sealed class FreezeProbe
    {
        public bool TokenFired { get; set; }

        public bool WorkerQuit { get; set; }

        public MigrationStatus StatusSeen { get; set; }

        public bool Frozen { get; set; }

        public Exception? Error { get; set; }

        public long CancelledAt { get; set; }
    }
}
