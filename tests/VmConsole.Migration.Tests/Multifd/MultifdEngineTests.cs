using System.Net;
using System.Net.Sockets;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Tests.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.MultifdChannels;

/// <summary>
/// Console to console with multifd, in the shape of QEMU's migration-test matrix: compression none/zlib/zstd, 2 and 16
/// channels, over unix:, tcp: and the in-process way, with a guest dirtying memory; the engine verifies the destination's
/// memory byte for byte at switchover.
/// </summary>
public sealed class MultifdEngineTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    public static TheoryData<string, MultifdCompression, int> Matrix => new()
    {
        { "unix", MultifdCompression.None, 2 },
        { "unix", MultifdCompression.None, 16 },
        { "unix", MultifdCompression.Zlib, 2 },
        { "unix", MultifdCompression.Zlib, 16 },
        { "unix", MultifdCompression.Zstd, 2 },
        { "unix", MultifdCompression.Zstd, 16 },
        { "tcp", MultifdCompression.None, 2 },
        { "tcp", MultifdCompression.Zstd, 16 },
        { "in-process", MultifdCompression.None, 2 },
        { "in-process", MultifdCompression.Zlib, 4 },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Migrate_WithMultifd_CompletesVerified(string transport, MultifdCompression compression, int channels)
    {
        await using var fixture = new EngineFixture();
        var vm = fixture.CreateVm("vm1", 64, new WorkloadSpec(WorkloadKind.Uniform, 4_000));
        await EngineFixture.WaitForPagesWrittenAsync(vm, 2_000);

        var migration = fixture.Engine.Start(new MigrationRequest("vm1")
        {
            DestinationHost = "host-b",
            Uri = UriFor(transport),
            Capabilities = MigrationCapabilities.Default with { Multifd = true },
            Parameters = MigrationParameters.Default with { MaxBandwidth = 0, MultifdChannels = channels, MultifdCompression = compression },
        });

        await FinishedAsync(migration);
        Assert.True(migration.Status == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.True(migration.Verified);
        var stats = migration.GetStats();
        Assert.True(stats.Normal > 0, "no page went over the channels");
        Assert.True(stats.DirtySyncCount >= 2);
        Assert.Equal("host-b", fixture.Emulator.GetVm("vm1").Host.Name);
        fixture.AssertLegalHistory(migration);
        fixture.AssertNoIncoming();
    }

    [Fact]
    public async Task Cancel_MidWay_EndsCancelled_ThenASecondMigrationCompletes()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 64, new WorkloadSpec(WorkloadKind.Uniform, 4_000));
        await EngineFixture.WaitForPagesWrittenAsync(source, 2_000);
        var path = EngineFixture.TempSocketPath();
        var request = new MigrationRequest("vm1")
        {
            DestinationHost = "host-b",
            Uri = "unix:" + path,
            Capabilities = MigrationCapabilities.Default with { Multifd = true },
            Parameters = MigrationParameters.Default with { MaxBandwidth = Sizes.MiB, MultifdChannels = 4 },
        };
        var first = fixture.Engine.Start(request);
        await EngineFixture.WaitForStatusAsync(first, MigrationStatus.Active, Bound);

        first.Cancel();

        Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(first, TimeSpan.FromSeconds(10)));
        Assert.False(File.Exists(path));
        Assert.Equal(RunState.Running, source.RunState);
        fixture.AssertNoIncoming();

        var second = fixture.Engine.Start(request with { Parameters = request.Parameters with { MaxBandwidth = 0 } });
        Assert.True(await EngineFixture.WaitFinishedAsync(second, Bound) == MigrationStatus.Completed, EngineFixture.Describe(second));
        Assert.True(second.Verified);
    }

    /// <summary>Waits for the end; a migration that does not end fails the test with its state, not a bare timeout.</summary>
    internal static async Task FinishedAsync(PrecopyMigration migration)
    {
        await Task.WhenAny(migration.Finished, Task.Delay(Bound));
        Assert.True(migration.Finished.IsCompleted, $"The migration did not end within {Bound.TotalSeconds:0} s: {EngineFixture.Describe(migration)}; stats {migration.GetStats()}");
    }

    private static string? UriFor(string transport)
    {
        switch (transport)
        {
            case "unix":
                return "unix:" + EngineFixture.TempSocketPath();
            case "tcp":
                using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
                {
                    probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                    return $"tcp:127.0.0.1:{((IPEndPoint)probe.LocalEndPoint!).Port}";
                }

            default:
                return null;
        }
    }
}
