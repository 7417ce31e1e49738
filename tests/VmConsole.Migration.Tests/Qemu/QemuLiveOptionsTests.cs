using System.Text.Json.Nodes;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Migration.Qemu;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>
/// Live migrations from a real QEMU 7.2 whose stream options change what it sends: each completes into the console
/// with the guest's memory equal to the source's byte for byte, or fails with a message that names what it refused
/// while the source QEMU lives on.
/// </summary>
public sealed class QemuLiveOptionsTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    private const int GuestBytes = 16 << 20;

    private const int BiosStart = 0xF0000;
    private const int BiosLength = 0x10000;

    /// <summary>Pages of the guest that the tests fill, and dirty again for XBZRLE.</summary>
    private static readonly long[] DataPages = [.. Enumerable.Range(0, 192).Select(i => 0x40_0000L + (i * 0x1_0000L))];

    [Theory]
    [InlineData("return-path")]
    [InlineData("postcopy-ram")]
    [InlineData("compress")]
    [InlineData("x-ignore-shared")]
    [InlineData("validate-uuid")]
    public async Task Incoming_SourceWithCapability_CompletesWithTheSourcesMemory(string capability)
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        await using var qemu = await QemuProcess.StartMicrovmAsync();
        await FillAsync(qemu);
        await SetCapabilitiesAsync(qemu, capability);
        var uri = $"unix:{qemu.Directory}/incoming.sock";
        await using var incoming = QemuIncomingMigration.Listen(emulator, new MigrationRegistry(), "from-qemu", host, uri);

        await qemu.QmpAsync("migrate", new { uri });
        var info = await qemu.WaitMigrationAsync();
        await incoming.Finished.WaitAsync(Bound);

        Assert.True(incoming.Status == MigrationStatus.Completed, incoming.ErrorDesc);
        if (capability == "compress")
        {
            Assert.True(info["compression"]?["pages"]?.GetValue<long>() > 0, $"QEMU compressed no page: {info.ToJsonString()}");
        }

        await AssertSameMemoryAsync(qemu, emulator.GetVm("from-qemu"));
    }

    [Fact]
    public async Task Incoming_SourceWithXbzrleAndDirtiedPages_XbzrlePagesSentAndMemoryEqual()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        await using var qemu = await QemuProcess.StartMicrovmAsync();
        await FillAsync(qemu);
        await SetCapabilitiesAsync(qemu, "xbzrle", "pause-before-switchover");

        // Slow passes that never converge while pages keep changing: the first pass sends them whole, the second
        // puts them in the cache, the third and later send XBZRLE deltas. The source pauses before it switches over, so
        // that the last writes are in its final pass (a write after it would differ from what the console got).
        // 1 MiB/s: a pass over the 768 KiB written takes most of a second, far longer than a round of writes.
        await qemu.QmpAsync("migrate-set-parameters", new Dictionary<string, object> { ["max-bandwidth"] = 1L << 20, ["downtime-limit"] = 1 });
        var uri = $"unix:{qemu.Directory}/incoming.sock";
        await using var incoming = QemuIncomingMigration.Listen(emulator, new MigrationRegistry(), "xbzrle", host, uri);

        await qemu.QmpAsync("migrate", new { uri });
        long xbzrlePages = 0;
        var round = 0;
        string? status = null;
        JsonNode? last = null;
        await Eventually.UntilAsync(
            async () =>
            {
                round++;
                foreach (var page in DataPages)
                {
                    await qemu.WriteAsync(page + ((round * 40) % 4000), BitConverter.GetBytes((long)round * 0x0101_0101 + page));
                }

                last = (await qemu.QmpAsync("query-migrate"))!;
                status = last["status"]?.GetValue<string>();
                xbzrlePages = last["xbzrle-cache"]?["pages"]?.GetValue<long>() ?? 0;
                return xbzrlePages > 0 || status is not ("setup" or "active");
            },
            Bound,
            () => $"QEMU sent no XBZRLE page after {round} rounds of writes: {last?.ToJsonString()}");
        await Eventually.UntilAsync(
            async () => (status = (await qemu.QmpAsync("query-migrate"))!["status"]?.GetValue<string>()) is not ("setup" or "active"),
            Bound,
            () => $"QEMU's migration is still {status}");
        Assert.Equal("pre-switchover", status);
        await qemu.QmpAsync("migrate-continue", new { state = "pre-switchover" });
        var done = await qemu.WaitMigrationAsync();
        await incoming.Finished.WaitAsync(Bound);

        Assert.True(incoming.Status == MigrationStatus.Completed, incoming.ErrorDesc);
        Assert.True(done["xbzrle-cache"]!["pages"]!.GetValue<long>() > 0, $"QEMU sent no XBZRLE page: {done.ToJsonString()}");
        await AssertSameMemoryAsync(qemu, emulator.GetVm("xbzrle"));
    }

    [Fact]
    public async Task Incoming_BlockMigration_FailsNamingTheBlockSectionAndTheSourceLives()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        var directory = QemuProcess.TempDirectory();
        try
        {
            var disk = Path.Combine(directory, "disk.raw");
            await File.WriteAllBytesAsync(disk, new byte[1 << 20]);
            await using var qemu = await QemuProcess.StartMicrovmAsync("-drive", $"file={disk},format=raw,if=none,id=d0", "-device", "virtio-blk-device,drive=d0");
            await FillAsync(qemu);
            var uri = $"unix:{qemu.Directory}/incoming.sock";
            await using var incoming = QemuIncomingMigration.Listen(emulator, new MigrationRegistry(), "with-disk", host, uri);

            await qemu.QmpAsync("migrate", new { uri, blk = true });
            await incoming.Finished.WaitAsync(Bound);

            Assert.Equal(MigrationStatus.Failed, incoming.Status);
            Assert.Contains("section 'block'", incoming.ErrorDesc, StringComparison.Ordinal);
            await AssertSourceLivesAsync(qemu, "failed");
            Assert.Empty(emulator.Vms);
            Assert.Empty(emulator.Arriving);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Incoming_PostcopySwitch_FailsNamingPostcopyAndTheSourceLives()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        await using var qemu = await QemuProcess.StartMicrovmAsync();
        await FillAsync(qemu);
        await SetCapabilitiesAsync(qemu, "postcopy-ram");
        await qemu.QmpAsync("migrate-set-parameters", new Dictionary<string, object> { ["max-bandwidth"] = 1L << 20, ["downtime-limit"] = 1 });
        var uri = $"unix:{qemu.Directory}/incoming.sock";
        await using var incoming = QemuIncomingMigration.Listen(emulator, new MigrationRegistry(), "postcopy", host, uri);

        await qemu.QmpAsync("migrate", new { uri });
        await Eventually.UntilAsync(async () => (await qemu.QmpAsync("query-migrate"))!["status"]?.GetValue<string>() == "active", Bound, () => "QEMU's migration never became active");
        await qemu.QmpAsync("migrate-start-postcopy");
        await incoming.Finished.WaitAsync(Bound);

        Assert.Equal(MigrationStatus.Failed, incoming.Status);
        Assert.Contains("switched to postcopy", incoming.ErrorDesc, StringComparison.Ordinal);
        Assert.Empty(emulator.Vms);
        await AssertSourceLivesAsync(qemu, null);
    }

    [Fact]
    public async Task StartPostcopy_ListenerToldPostcopyRam_RefusedSayingTheConsoleTakesPrecopyOnly()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        var directory = QemuProcess.TempDirectory();
        try
        {
            await using var incoming = QemuIncomingMigration.Listen(
                emulator, new MigrationRegistry(), "told", host, $"unix:{directory}/in.sock", capabilities: new IncomingCapabilities(PostcopyRam: true));

            var refused = await Assert.ThrowsAsync<Emulation.DomainException>(() => incoming.StartPostcopyAsync());

            Assert.Equal("postcopy-not-enabled", refused.Code);
            Assert.Contains("does not take postcopy", refused.Message, StringComparison.Ordinal);
            Assert.True(incoming.Capabilities.PostcopyRam);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    internal static async Task FillAsync(QemuProcess qemu)
    {
        foreach (var page in DataPages)
        {
            await qemu.WriteAsync(page, QemuStreams.Pattern(page, 4096));
        }
    }

    internal static Task SetCapabilitiesAsync(QemuProcess qemu, params string[] names) =>
        qemu.QmpAsync("migrate-set-capabilities", new { capabilities = names.Select(n => new { capability = n, state = true }).ToArray() });

    /// <summary>All of the guest's memory in the console equals the source QEMU's (pmemsave of the whole RAM).</summary>
    internal static async Task AssertSameMemoryAsync(QemuProcess qemu, Vm vm)
    {
        var file = Path.Combine(qemu.Directory, "memory.bin");
        await qemu.QmpAsync("pmemsave", new Dictionary<string, object> { ["val"] = 0, ["size"] = GuestBytes, ["filename"] = file });
        var expected = await File.ReadAllBytesAsync(file);
        var actual = new byte[GuestBytes];
        vm.ReadGuest(0, actual);
        // QEMU's address space shows the firmware there, over the RAM (microvm maps qboot's 64 KiB at 0xF0000).
        expected.AsSpan(BiosStart, BiosLength).Clear();
        actual.AsSpan(BiosStart, BiosLength).Clear();
        var first = expected.AsSpan().CommonPrefixLength(actual);
        Assert.True(first == GuestBytes, $"the console's memory differs from the source's from byte 0x{first:x}");
    }

    /// <summary>The source QEMU still answers, its migration ended (or paused in postcopy), not hung in active.</summary>
    private static async Task AssertSourceLivesAsync(QemuProcess qemu, string? status)
    {
        JsonNode? info = null;
        await Eventually.UntilAsync(
            async () =>
            {
                info = await qemu.QmpAsync("query-migrate");
                var now = info?["status"]?.GetValue<string>();
                return status is null ? now is "failed" or "postcopy-paused" : now == status;
            },
            Bound,
            () => $"the source's migration is {info?.ToJsonString()}");
        Assert.NotNull(await qemu.QmpAsync("query-status"));
    }
}
