using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// The source's run state through switchover, as QEMU 7.2's migration_completion has it: the guest stops
/// (<c>finish-migrate</c>) before <c>pre-switchover</c>, the downtime counts from that stop, and the guest ends
/// <c>postmigrate</c>, or back as it was when the migration does not complete.
/// </summary>
public sealed class FinishMigrateTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task PreSwitchover_GuestWasDirtyingMemory_SourceIsFinishMigrateAndWritesNothingMore()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fixture = new EngineFixture(clock);
        var source = fixture.CreateVm("hot", 32, new WorkloadSpec(WorkloadKind.Uniform, 2_000));
        PrecopyMigration? migration = null;
        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => source.Workload.PagesWritten >= 1_000);
        migration = fixture.Engine.Start(new MigrationRequest("hot")
        {
            DestinationHost = "host-b",
            Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true },
        });
        await RunClockUntilPreSwitchoverAsync(clock, source, migration);

        Assert.Equal(RunState.FinishMigrate, source.RunState);
        Assert.Equal(RunState.Running, migration.StoppedFrom);
        var written = source.Workload.PagesWritten;
        var memory = EngineFixture.HashMigratable(source);

        // Two seconds of guest time, each 100 ms step taken only once a running guest would have written its share.
        var steps = 0;
        await EngineFixture.RunClockUntilAsync(clock, source, () => null, () => ++steps > 20);

        Assert.Equal(written, source.Workload.PagesWritten);
        Assert.Equal(memory, EngineFixture.HashMigratable(source));
        Assert.Equal(MigrationStatus.PreSwitchover, migration.Status);
        migration.Continue();
        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => migration.Finished.IsCompleted);
        Assert.True(migration.Status == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.Equal(RunState.Running, fixture.Emulator.GetVm("hot").RunState);
    }

    [Fact]
    public async Task Downtime_WaitAtPreSwitchover_CountsFromTheStop()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fixture = new EngineFixture(clock);
        var source = fixture.CreateVm("vm1", 16, machine: "microvm");
        var migration = fixture.Engine.Start(new MigrationRequest("vm1")
        {
            DestinationHost = "host-b",
            Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true },
        });
        await RunClockUntilPreSwitchoverAsync(clock, source, migration);

        clock.Advance(TimeSpan.FromSeconds(5));
        migration.Continue();
        await EngineFixture.RunClockUntilAsync(clock, source, () => migration, () => migration.Finished.IsCompleted);

        Assert.True(migration.Status == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.InRange(migration.GetStats().Downtime ?? 0, 5_000, long.MaxValue);
    }

    [Theory]
    [InlineData(false, RunState.Running)]
    [InlineData(true, RunState.Paused)]
    public async Task Cancel_AtPreSwitchover_SourceGoesBackToTheStateItHad(bool pausedFirst, RunState expected)
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, new WorkloadSpec(WorkloadKind.Uniform, 500), machine: "microvm");
        if (pausedFirst)
        {
            source.Pause();
        }

        var migration = fixture.Engine.Start(new MigrationRequest("vm1")
        {
            DestinationHost = "host-b",
            Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true },
        });
        await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.PreSwitchover, Bound);
        Assert.Equal(RunState.FinishMigrate, source.RunState);
        Assert.Equal(expected, migration.StoppedFrom);

        migration.Cancel();

        Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(migration, Bound));
        Assert.Equal(expected, source.RunState);
        Assert.Same(source, fixture.Emulator.GetVm("vm1"));
        fixture.AssertNoIncoming();
        fixture.AssertLegalHistory(migration);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Complete_ToAFile_SourceGoesRunningFinishMigratePostMigrate(bool pauseBeforeSwitchover)
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, new WorkloadSpec(WorkloadKind.Uniform, 500), machine: "microvm");
        var states = new ConcurrentQueue<RunState>();
        source.Changed += (vm, kind) =>
        {
            if (kind == VmChangeKind.RunState)
            {
                states.Enqueue(vm.RunState);
            }
        };
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        try
        {
            var migration = fixture.Engine.Start(new MigrationRequest("vm1")
            {
                Uri = "file:" + file,
                Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = pauseBeforeSwitchover },
            });
            if (pauseBeforeSwitchover)
            {
                await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.PreSwitchover, Bound);
                migration.Continue();
            }

            Assert.True(await EngineFixture.WaitFinishedAsync(migration, Bound) == MigrationStatus.Completed, EngineFixture.Describe(migration));
            Assert.Equal(RunState.PostMigrate, source.RunState);
            Assert.Equal([RunState.FinishMigrate, RunState.PostMigrate], states);
            fixture.AssertLegalHistory(migration);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData(false, RunState.Running)]
    [InlineData(true, RunState.Paused)]
    public async Task Fail_InDevice_SourceGoesBackFromFinishMigrateToTheStateItHad(bool pausedFirst, RunState expected)
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, new WorkloadSpec(WorkloadKind.Uniform, 500), machine: "microvm");
        if (pausedFirst)
        {
            source.Pause();
        }

        var states = new ConcurrentQueue<RunState>();
        source.Changed += (vm, kind) =>
        {
            if (kind == VmChangeKind.RunState)
            {
                states.Enqueue(vm.RunState);
            }
        };
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        try
        {
            var migration = fixture.Engine.Start(new MigrationRequest("vm1")
            {
                Uri = "file:" + file,
                QemuCompatible = true,
                PeerLoaded = _ => throw new MigrationFailedException("The peer did not load the stream."),
            });

            Assert.Equal(MigrationStatus.Failed, await EngineFixture.WaitFinishedAsync(migration, Bound));
            Assert.Equal(expected, source.RunState);
            Assert.Equal([RunState.FinishMigrate, expected], states);
            Assert.False(source.Freeze.IsFrozen);
            fixture.AssertLegalHistory(migration);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task PowerActions_InFinishMigrate_PauseResumeResetRefusedShutdownCancelsTheMigration()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, machine: "microvm");
        var migration = fixture.Engine.Start(new MigrationRequest("vm1")
        {
            DestinationHost = "host-b",
            Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true },
        });
        await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.PreSwitchover, Bound);

        foreach (var action in new Action[] { source.Pause, source.Resume, source.Reset })
        {
            var error = Assert.ThrowsAny<DomainException>(action);
            Assert.Equal(ErrorCodes.IllegalPowerTransition, error.Code);
            Assert.Contains("while it is finish-migrate: its migration has stopped the guest to switch over", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(RunState.FinishMigrate, source.RunState);
        await source.ShutdownAsync();

        Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(migration, Bound));
        Assert.Equal(RunState.Shutdown, source.RunState);
        fixture.AssertNoIncoming();
    }

    /// <summary>The clock steps on while the sender paces precopy; at pre-switchover it waits for continue, not for the clock.</summary>
    private static Task RunClockUntilPreSwitchoverAsync(FakeTimeProvider clock, Vm source, PrecopyMigration migration) =>
        EngineFixture.RunClockUntilAsync(
            clock,
            source,
            () => migration.Status == MigrationStatus.PreSwitchover ? null : migration,
            () => migration.Status == MigrationStatus.PreSwitchover);
}
