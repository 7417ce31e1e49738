using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Transports;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// Acceptance point 8, the destination's layout. The engine builds its in-process destination to match the source,
/// so a mismatch cannot arise on that path; these feed a real stream (the engine's, through file:) to the engine's
/// destination half on an incoming VM built differently, and expect QEMU's messages (DESIGN.md section 5).
/// </summary>
public sealed class DestinationLayoutTests
{
    [Theory]
    [InlineData("machine", "Machine type received is 'q35' and local is 'microvm'")]
    [InlineData("size", "Size mismatch: pc.ram: 0x2000000 != 0x1000000: Invalid argument")]
    [InlineData("unknown block", "Unknown ramblock \"mem1\", cannot accept migration")]
    public async Task DestinationSink_LayoutDiffersFromTheStream_FailsWithQemusMessage(string difference, string message)
    {
        await using var fixture = new EngineFixture();
        var source = fixture.Emulator.CreateVm(new VmDefinition("vm1", "host-a", "q35", 32 * Sizes.MiB) { Slots = 2, MaxMemBytes = 64 * Sizes.MiB, Start = true });
        if (difference == "unknown block")
        {
            source.AddMemoryBackend("mem1", 8 * Sizes.MiB);
            source.PlugDimm("dimm0", "mem1");
        }

        var stream = await StreamToFileAsync(fixture, "vm1");
        try
        {
            var local = difference switch
            {
                "machine" => new VmDefinition("vm1", "host-b", "microvm", 32 * Sizes.MiB),
                "size" => new VmDefinition("vm1", "host-b", "q35", 16 * Sizes.MiB),
                _ => source.Definition with { Host = "host-b" },
            };

            var error = await LoadAsync(fixture, local, stream);

            var refused = Assert.IsType<MigrationStreamException>(error);
            Assert.Equal(message, refused.Message);
            fixture.AssertNoIncoming();
            Assert.Equal(0, fixture.Emulator.GetHost("host-b").ReservedBytes);
        }
        finally
        {
            File.Delete(stream);
        }
    }

    [Fact]
    public async Task Migrate_SourceGrewAResizeableBlock_DestinationIsResizedToTheStreamsLength()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 32);
        var tables = source.RamBlocks.Single(b => b.IdStr == "/rom@etc/acpi/tables");
        source.Resize(tables.Id, 256 * Sizes.KiB);
        var hash = EngineFixture.HashMigratable(source);

        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" });

        Assert.True(await EngineFixture.WaitFinishedAsync(migration) == MigrationStatus.Completed, EngineFixture.Describe(migration));
        Assert.True(migration.Verified);
        var moved = fixture.Emulator.GetVm("vm1");
        moved.Pause();
        Assert.Equal(256 * Sizes.KiB, moved.RamBlocks.Single(b => b.IdStr == "/rom@etc/acpi/tables").UsedLength);
        Assert.Equal(hash, EngineFixture.HashMigratable(moved));
        fixture.AssertLegalHistory(migration);
    }

    /// <summary>
    /// A resizeable block announced beyond its max_length: no source of this server can send it (its own block has the
    /// same max), so the stream is written by hand with the engine's writer, as a differently built peer would send it.
    /// </summary>
    [Fact]
    public async Task DestinationSink_ResizeableBlockAnnouncedBeyondItsMax_FailsWithSizeTooLarge()
    {
        await using var fixture = new EngineFixture();
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        try
        {
            await using (var stream = File.Create(file))
            {
                var output = System.IO.Pipelines.PipeWriter.Create(stream);
                var writer = new MigrationStreamWriter(output);
                writer.WriteHeader();
                writer.WriteConfiguration("q35");
                writer.WriteRamSetup(2, [new RamBlockHeader("pc.ram", 16 * Sizes.MiB), new RamBlockHeader("/rom@etc/acpi/tables", 4 * Sizes.MiB)]);
                writer.WriteEof();
                await writer.FlushAsync(CancellationToken.None);
                await output.CompleteAsync();
            }

            var error = await LoadAsync(fixture, new VmDefinition("vm1", "host-b", "q35", 16 * Sizes.MiB), file);

            var refused = Assert.IsType<MigrationStreamException>(error);
            Assert.Equal("Size too large: /rom@etc/acpi/tables: 0x400000 > 0x200000: Invalid argument", refused.Message);
            fixture.AssertNoIncoming();
            Assert.Equal(0, fixture.Emulator.GetHost("host-b").ReservedBytes);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<string> StreamToFileAsync(EngineFixture fixture, string vm)
    {
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        var migration = fixture.Engine.Start(new MigrationRequest(vm) { Uri = "file:" + file });
        Assert.Equal(MigrationStatus.Completed, await EngineFixture.WaitFinishedAsync(migration));
        return file;
    }

    /// <summary>Loads the stream file into a fresh incoming VM of <paramref name="local"/>; discards the VM; returns what was thrown.</summary>
    private static async Task<Exception?> LoadAsync(EngineFixture fixture, VmDefinition local, string file)
    {
        var incoming = fixture.Emulator.CreateIncomingVm(local);
        var lease = incoming.Freeze.Acquire(new Holder());
        try
        {
            return await Record.ExceptionAsync(async () =>
            {
                using var sink = new DestinationSink(incoming, lease);
                await new MigrationStreamReader(MigrationChannel.OpenFile(MigrationUri.Parse("file:" + file)), sink).ReadToEndAsync(CancellationToken.None);
            });
        }
        finally
        {
            lease.Dispose();
            fixture.Emulator.DiscardIncoming(incoming);
        }
    }

    private sealed class Holder : IMigrationLeaseHolder
    {
        public string MigrationId => "test-incoming";

        public MigrationStatus Status => MigrationStatus.Active;

        public void RequestCancel(string? error)
        {
        }
    }
}
