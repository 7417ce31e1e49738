using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

public sealed class MigrationSmokeTests
{
    [Fact]
    public async Task Migrate_RunningVmToOtherHost_CompletesVerifiedAndTheNameMoves()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 64, new WorkloadSpec(WorkloadKind.Uniform, 5_000));
        source.MainRam.Write(12_288, [1, 2, 3]);

        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = 0 } });
        var status = await EngineFixture.WaitFinishedAsync(migration);

        Assert.True(status == MigrationStatus.Completed, $"{status}: {migration.ErrorDesc}");
        Assert.True(migration.Verified);
        var moved = fixture.Emulator.GetVm("vm1");
        Assert.NotSame(source, moved);
        Assert.Equal("host-b", moved.Host.Name);
        Assert.Equal(RunState.Running, moved.RunState);
        Assert.Equal(WorkloadKind.Uniform, moved.Workload.Spec.Kind);
        var bytes = new byte[3];
        moved.MainRam.Read(12_288, bytes);
        Assert.Equal(new byte[] { 1, 2, 3 }, bytes);
        Assert.Equal(
            [MigrationStatus.Setup, MigrationStatus.Active, MigrationStatus.Device, MigrationStatus.Completed],
            migration.Events.Select(e => e.Status));
        var stats = migration.GetStats();
        Assert.Equal(0, stats.Remaining);
        Assert.True(stats.Duplicate > 0 && stats.Normal > 0);
        Assert.NotNull(stats.Downtime);
        Assert.Equal(0, fixture.Emulator.GetHost("host-a").ReservedBytes);
    }
}
