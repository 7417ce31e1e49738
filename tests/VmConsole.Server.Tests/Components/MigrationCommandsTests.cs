using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;
using MigrationCommands = VmConsole.Server.Domain.MigrationCommands;

namespace VmConsole.Server.Tests.Components;

/// <summary>"Show command" and the task log's first line with multifd and XBZRLE: QEMU 7.2's parameter names and words.</summary>
public sealed class MigrationCommandsTests
{
    [Fact]
    public void Start_MultifdWithZlib_SetsChannelsCompressionAndTheZlibLevelOnly()
    {
        var command = MigrationCommands.Start(
            MigrationParameters.Default with { MultifdChannels = 16, MultifdCompression = MultifdCompression.Zlib, MultifdZlibLevel = 6 },
            MigrationCapabilities.Default with { Multifd = true, Events = false }, "tcp:127.0.0.1:4444", null);

        Assert.Equal(
            ["migrate_set_capability multifd on", "migrate_set_parameter max-bandwidth 134217728", "migrate_set_parameter downtime-limit 300",
             "migrate_set_parameter multifd-channels 16", "migrate_set_parameter multifd-compression zlib", "migrate_set_parameter multifd-zlib-level 6",
             "# the peer listens first (QEMU started with -incoming tcp:127.0.0.1:4444)", "migrate -d tcp:127.0.0.1:4444"],
            command.Hmp);
        Assert.Contains("\"multifd-compression\":\"zlib\"", command.Qmp[1], StringComparison.Ordinal);
        Assert.Contains("\"multifd-zlib-level\":6", command.Qmp[1], StringComparison.Ordinal);
        Assert.DoesNotContain("zstd", command.Qmp[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Start_Xbzrle_SetsTheCacheSizeAndNoMultifdParameter()
    {
        var command = MigrationCommands.Start(
            MigrationParameters.Default with { XbzrleCacheSize = 32 * Sizes.MiB }, MigrationCapabilities.Default with { Xbzrle = true }, null, "host-b");

        Assert.Contains("migrate_set_parameter xbzrle-cache-size 33554432", command.Hmp);
        Assert.DoesNotContain(command.Hmp, l => l.Contains("multifd", StringComparison.Ordinal));
    }

    [Fact]
    public void Incoming_Multifd_SetsTheCapabilityChannelsAndCompressionBeforeListening()
    {
        var command = MigrationCommands.Incoming(
            "tcp:127.0.0.1:5555", MigrationParameters.Default with { MultifdChannels = 2, MultifdCompression = MultifdCompression.Zstd }, MigrationCapabilities.Default with { Multifd = true });

        Assert.Equal(
            ["migrate_set_capability multifd on", "migrate_set_parameter multifd-channels 2", "migrate_set_parameter multifd-compression zstd",
             "migrate_incoming tcp:127.0.0.1:5555", "# then, on the source QEMU: migrate -d tcp:127.0.0.1:5555"],
            command.Hmp);
        Assert.Equal("{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:5555\"}}", command.Qmp[^1]);
        Assert.Equal(["migrate_incoming unix:/tmp/s", "# then, on the source QEMU: migrate -d unix:/tmp/s"], MigrationCommands.Incoming("unix:/tmp/s").Hmp);
    }
}
