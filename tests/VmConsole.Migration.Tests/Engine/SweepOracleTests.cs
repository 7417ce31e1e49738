using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// Acceptance point 2: QEMU's migration-test oracle. The sweep guest increments the first byte of every page of its
/// working set in turn, so at any moment every page equals its predecessor except at the one place the sweep is.
/// </summary>
public sealed class SweepOracleTests
{
    private const long WorkingSet = 64 * Sizes.MiB;
    private const long PagesPerSecond = 20_000;

    /// <summary>
    /// The guest sweeps on through precopy; at pre-switchover the migration has stopped it (finish-migrate), as QEMU
    /// does, so its memory holds one step and does not move until the switchover; the destination gets exactly that.
    /// </summary>
    [Fact]
    public async Task Migrate_SweepGuestStoppedAtPreSwitchover_DestinationMemoryHasAtMostOneStep()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("sweep", 128, new WorkloadSpec(WorkloadKind.Sweep, PagesPerSecond, WorkingSet));
        await EngineFixture.WaitForPagesWrittenAsync(source, 2 * (WorkingSet / 4096));
        var migration = fixture.Engine.Start(new MigrationRequest("sweep")
        {
            DestinationHost = "host-b",
            Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true },
        });

        await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.PreSwitchover, TimeSpan.FromSeconds(30));
        Assert.True(migration.GetStats().DirtySyncCount >= 2);
        Assert.Equal(RunState.FinishMigrate, source.RunState);
        var expected = FirstBytes(source);
        AssertOneStep(expected);
        var sweepAtStop = source.Workload.SweepPage;
        migration.Continue();
        Assert.True(await EngineFixture.WaitFinishedAsync(migration) == MigrationStatus.Completed, EngineFixture.Describe(migration));

        var destination = fixture.Emulator.GetVm("sweep");
        Assert.Equal("host-b", destination.Host.Name);
        Assert.Equal(RunState.Running, destination.RunState);
        Assert.True(migration.Verified);
        Assert.Equal(sweepAtStop, source.Workload.SweepPage);
        fixture.AssertLegalHistory(migration);
    }

    /// <summary>
    /// The oracle as QEMU's migration-test applies it: the guest keeps running on the destination. The sweep position
    /// travels in VmConsole's state section, so the destination's sweep carries on where the source's stopped, and the
    /// memory keeps a single step (two steps would mean the destination started its sweep again at page 0).
    /// </summary>
    [Fact]
    public async Task Migrate_SweepGuestRunning_DestinationPausedRightAfterCompletionHasAtMostOneStep()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("sweep", 128, new WorkloadSpec(WorkloadKind.Sweep, PagesPerSecond, WorkingSet));
        await EngineFixture.WaitForPagesWrittenAsync(source, 2 * (WorkingSet / 4096));
        var migration = fixture.Engine.Start(new MigrationRequest("sweep") { DestinationHost = "host-b" });

        var status = await EngineFixture.WaitFinishedAsync(migration);
        var destination = fixture.Emulator.GetVm("sweep");
        destination.Pause();

        Assert.True(status == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.True(migration.Verified);
        Assert.Equal("host-b", destination.Host.Name);
        AssertOneStep(FirstBytes(destination));
        fixture.AssertLegalHistory(migration);
    }

    private static byte[] FirstBytes(Vm vm)
    {
        var bytes = new byte[WorkingSet / 4096];
        var one = new byte[1];
        for (var page = 0; page < bytes.Length; page++)
        {
            vm.MainRam.Read(page * 4096L, one);
            bytes[page] = one[0];
        }

        return bytes;
    }

    /// <summary>Every page equals its predecessor except at most one place, where the predecessor is one ahead (255 -> 0 wraps).</summary>
    private static void AssertOneStep(byte[] firstBytes)
    {
        var steps = Enumerable.Range(1, firstBytes.Length - 1).Where(i => firstBytes[i] != firstBytes[i - 1]).ToList();
        Assert.True(steps.Count <= 1, $"{steps.Count} places where a page differs from its predecessor: " +
            string.Join(", ", steps.Take(8).Select(i => $"page {i}: {firstBytes[i - 1]} -> {firstBytes[i]}")));
        foreach (var i in steps)
        {
            Assert.True((byte)(firstBytes[i] + 1) == firstBytes[i - 1], $"page {i - 1} holds {firstBytes[i - 1]}, page {i} holds {firstBytes[i]}: not one sweep apart");
        }

        Assert.True(firstBytes[0] > 0, "the sweep never ran");
    }
}
