using System.Net;
using System.Net.Sockets;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>A destination host of this server reached through a real socket (the engine listens and connects itself).</summary>
public sealed class TransportTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Migrate_ToHostOverAUnixSocket_CompletesVerifiedAndRemovesTheSocket()
    {
        await using var fixture = new EngineFixture();
        fixture.CreateVm("vm1", 32, new WorkloadSpec(WorkloadKind.Uniform, 2_000));
        var path = EngineFixture.TempSocketPath();

        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Uri = "unix:" + path });

        Assert.True(await EngineFixture.WaitFinishedAsync(migration, Bound) == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.True(migration.Verified);
        Assert.Equal("host-b", fixture.Emulator.GetVm("vm1").Host.Name);
        Assert.False(File.Exists(path));
        fixture.AssertLegalHistory(migration);
        fixture.AssertNoIncoming();
    }

    [Fact]
    public async Task Migrate_ToHostOverLoopbackTcp_CompletesVerified()
    {
        await using var fixture = new EngineFixture();
        fixture.CreateVm("vm1", 32, new WorkloadSpec(WorkloadKind.Uniform, 2_000));
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Uri = $"tcp:127.0.0.1:{port}" });

        Assert.True(await EngineFixture.WaitFinishedAsync(migration, Bound) == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.True(migration.Verified);
        Assert.Equal($"tcp:127.0.0.1:{port}", migration.Uri);
        fixture.AssertLegalHistory(migration);
        fixture.AssertNoIncoming();
    }

    [Fact]
    public async Task Cancel_ToHostOverAUnixSocket_20Times_RemovesTheSocketAndTheDestination()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, new WorkloadSpec(WorkloadKind.Uniform, 2_000), machine: "microvm");
        for (var run = 0; run < 20; run++)
        {
            var path = EngineFixture.TempSocketPath();
            var migration = fixture.Engine.Start(new MigrationRequest("vm1")
            {
                DestinationHost = "host-b",
                Uri = "unix:" + path,
                Parameters = MigrationParameters.Default with { MaxBandwidth = Sizes.MiB },
            });
            await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.Active, Bound);

            migration.Cancel();

            Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(5)));
            Assert.False(File.Exists(path), $"run {run}: {path} left behind");
            Assert.Equal(RunState.Running, source.RunState);
            Assert.False(source.Freeze.IsFrozen);
            fixture.AssertNoIncoming();
            Assert.Equal(0, fixture.Emulator.GetHost("host-b").ReservedBytes);
            fixture.AssertLegalHistory(migration);
        }
    }

    [Fact]
    public async Task Migrate_ToHostOnAUnixPathThatCannotBeBound_FailsAndLeavesNothing()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, machine: "microvm");
        var path = Path.Combine(Path.GetTempPath(), $"vmc-missing-{Guid.NewGuid():N}"[..24], "x.sock");

        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Uri = "unix:" + path });

        Assert.Equal(MigrationStatus.Failed, await EngineFixture.WaitFinishedAsync(migration, Bound));
        Assert.False(string.IsNullOrWhiteSpace(migration.ErrorDesc));
        Assert.Same(source, fixture.Emulator.GetVm("vm1"));
        Assert.Equal(RunState.Running, source.RunState);
        Assert.False(source.Freeze.IsFrozen);
        fixture.AssertNoIncoming();
        Assert.Equal(0, fixture.Emulator.GetHost("host-b").ReservedBytes);
        fixture.AssertLegalHistory(migration);
    }
}
