using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// A peer outside the engine (a QEMU the console started) says whether it loaded the stream before the switchover is
/// committed: a migration whose peer did not load it fails and the source runs on, never "completed" with nobody
/// running the guest.
/// </summary>
public sealed class PeerLoadedTests
{
    [Fact]
    public async Task PeerLoaded_Throws_TheMigrationFailsWithItsReasonAndTheSourceRunsOn()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, new Emulation.Workloads.WorkloadSpec(Emulation.Workloads.WorkloadKind.Uniform, 1_000));
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        try
        {
            var migration = fixture.Engine.Start(new MigrationRequest("vm1")
            {
                Uri = "file:" + file,
                QemuCompatible = true,
                PeerLoaded = _ => throw new MigrationFailedException("The destination QEMU on host 'q' did not load the stream: gone."),
            });

            Assert.Equal(MigrationStatus.Failed, await EngineFixture.WaitFinishedAsync(migration));
            Assert.Equal("The destination QEMU on host 'q' did not load the stream: gone.", migration.GetStats().ErrorDesc);
            Assert.Same(source, fixture.Emulator.GetVm("vm1"));
            Assert.Equal(RunState.Running, source.RunState);
            Assert.False(source.Freeze.IsFrozen);
            fixture.AssertLegalHistory(migration);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task PeerLoaded_Returns_CalledOnceWithEverythingSentThenCompleted()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, new Emulation.Workloads.WorkloadSpec(Emulation.Workloads.WorkloadKind.Uniform, 1_000));
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        try
        {
            var calls = new List<(MigrationStatus Status, RunState Source, long FileLength)>();
            var migration = fixture.Engine.Start(new MigrationRequest("vm1")
            {
                Uri = "file:" + file,
                QemuCompatible = true,
                PeerLoaded = _ =>
                {
                    calls.Add((fixture.Engine.Registry.ActiveFor("vm1")!.Status, source.RunState, new FileInfo(file).Length));
                    return Task.CompletedTask;
                },
            });

            Assert.Equal(MigrationStatus.Completed, await EngineFixture.WaitFinishedAsync(migration));
            var call = Assert.Single(calls);
            // In device, with the guest stopped, after the stream's last byte (the file is whole when the peer is asked).
            Assert.Equal((MigrationStatus.Device, RunState.FinishMigrate, migration.GetStats().Transferred), call);
            Assert.Equal(RunState.PostMigrate, source.RunState);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
