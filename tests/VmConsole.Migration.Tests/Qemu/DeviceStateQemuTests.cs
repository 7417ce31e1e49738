using System.Globalization;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Qemu;
using VmConsole.Qemu.Guests;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>
/// The round trip with device state against real QEMU 7.2 (TCG): a pc guest running the sweep program, stopped, goes to
/// the console (file or live) and back to a QEMU started the same way with <c>-S</c>. The returned QEMU has the same
/// registers (HMP <c>info registers</c>) and the same memory (<c>pmemsave</c>), and after <c>cont</c> the sweep goes on
/// without the firmware running again (the first MiB, the firmware's, stays as it was).
/// </summary>
public sealed class DeviceStateQemuTests
{
    private const long Memory = 64 << 20;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task FileRoundTrip_StoppedSweepGuest_ReturnedQemuHasTheSameRegistersAndMemoryAndGoesOn()
    {
        var directory = QemuProcess.TempDirectory();
        try
        {
            var image = WriteImage(directory);
            using var emulator = QemuStreams.NewEmulator(out var host);
            Snapshot original;
            var toConsole = Path.Combine(directory, "to-console.stream");
            await using (var source = await StartSweepAsync(image))
            {
                original = await RunThenStopAsync(source, directory, "a");
                await source.QmpAsync("migrate", new { uri = $"exec:cat > {toConsole}" });
                await source.WaitMigrationAsync();
            }

            await using (var file = File.OpenRead(toConsole))
            {
                var imported = await new QemuStreamImport(emulator).ImportAsync("sweep", host, file);
                Assert.Contains(imported.DeviceState!.Sections, s => s.IdStr == "cpu");

                // QEMU's globalstate says the guest was stopped: it arrives paused, as in a QEMU destination.
                Assert.Equal("paused", QemuGlobalState.RunStateOf(imported.DeviceState));
                Assert.Equal(RunState.Paused, imported.Vm.RunState);
            }

            var back = Path.Combine(directory, "back.stream");
            await using (var file = File.Create(back))
            {
                var exported = await QemuStreamExport.ExportAsync(emulator.GetVm("sweep"), file);
                Assert.NotNull(exported.DeviceState);
            }

            await using var returned = await StartSweepAsync(image, "-incoming", "defer");
            await returned.QmpAsync("migrate-incoming", new { uri = $"exec:cat {back}" });
            Assert.Equal("paused", await returned.WaitIncomingDoneAsync());
            await AssertSameGuestThatGoesOnAsync(returned, original, directory);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task LiveRoundTrip_StoppedSweepGuest_ReturnedQemuHasTheSameRegistersAndMemoryAndGoesOn()
    {
        var directory = QemuProcess.TempDirectory();
        try
        {
            var image = WriteImage(directory);
            using var emulator = QemuStreams.NewEmulator(out var host);
            Snapshot original;
            await using (var source = await StartSweepAsync(image))
            {
                original = await RunThenStopAsync(source, directory, "a");
                var uri = $"unix:{directory}/to-console.sock";
                await using var incoming = QemuIncomingMigration.Listen(emulator, new Model.MigrationRegistry(), "sweep", host, uri);
                await source.QmpAsync("migrate", new { uri });
                await source.WaitMigrationAsync();
                await incoming.Finished.WaitAsync(Bound);
                Assert.True(incoming.Status == MigrationStatus.Completed, incoming.ErrorDesc);
            }

            Assert.Contains(emulator.GetVm("sweep").DeviceState!.Sections, s => s.IdStr == "cpu");
            Assert.Equal(RunState.Paused, emulator.GetVm("sweep").RunState);
            var back = $"unix:{directory}/back.sock";
            await using var returned = await StartSweepAsync(image, "-incoming", back);
            await using (var engine = new MigrationEngine(emulator))
            {
                var migration = engine.Start(new MigrationRequest("sweep") { Uri = back, QemuCompatible = true });
                await migration.Finished.WaitAsync(Bound);
                Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.ErrorDesc}");
            }

            Assert.Equal("paused", await returned.WaitIncomingDoneAsync());
            await AssertSameGuestThatGoesOnAsync(returned, original, directory);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A pc with the sweep guest, stopped (-S), on TCG (qtest would keep the vCPU from running).</summary>
    private static Task<QemuProcess> StartSweepAsync(string image, params string[] extra) =>
        QemuProcess.StartAsync(["-M", "pc", "-m", "64M", "-kernel", image, .. extra], qtest: false);

    private static string WriteImage(string directory)
    {
        var path = Path.Combine(directory, "sweep.bin");
        File.WriteAllBytes(path, SweepGuest.For(Memory).Image());
        return path;
    }

    /// <summary>Runs the guest until its sweep has gone through its range once or more, stops it, and takes its registers and memory.</summary>
    private static async Task<Snapshot> RunThenStopAsync(QemuProcess qemu, string directory, string name)
    {
        await qemu.QmpAsync("cont");
        // The last page of the range counted once: the sweep has been all the way through.
        await Eventually.UntilAsync(async () => await FirstByteAsync(qemu, SweepGuest.For(Memory).End - SweepGuest.PageSize) != 0, Bound, () => "the sweep never got through its range");
        await qemu.QmpAsync("stop");
        return await SnapshotAsync(qemu, directory, name);
    }

    private static async Task AssertSameGuestThatGoesOnAsync(QemuProcess returned, Snapshot original, string directory)
    {
        var arrived = await SnapshotAsync(returned, directory, "b");
        Assert.Equal(original.Registers, arrived.Registers);
        Assert.True(original.Memory.AsSpan().SequenceEqual(arrived.Memory), $"guest memory differs first at 0x{original.Memory.AsSpan().CommonPrefixLength(arrived.Memory):x}");

        // After cont the sweep goes on from where it stopped: memory changes, and the firmware's first MiB does not (a guest booted from reset would run it again).
        var sweepAt = SweepGuest.LowestStart;
        await returned.QmpAsync("cont");
        await Eventually.UntilAsync(async () => await FirstByteAsync(returned, sweepAt) != original.Memory[sweepAt], Bound, () => "the returned guest does not write its memory");
        await returned.QmpAsync("stop");
        var after = await SnapshotAsync(returned, directory, "c");
        Assert.True(original.Memory.AsSpan(0, 1 << 20).SequenceEqual(after.Memory.AsSpan(0, 1 << 20)), "the first MiB changed: the firmware ran again");
        Assert.Null(SweepGuest.Check(FirstBytes(after.Memory)));
    }

    /// <summary>The first byte of each page of the lower half of the sweep's range (the firmware leaves its own bytes higher up).</summary>
    private static byte[] FirstBytes(byte[] memory)
    {
        var sweep = new SweepGuest(SweepGuest.LowestStart, Memory / 2);
        return [.. Enumerable.Range(0, (int)((sweep.End - sweep.Start) / SweepGuest.PageSize)).Select(i => memory[sweep.Start + (i * SweepGuest.PageSize)])];
    }

    private static async Task<Snapshot> SnapshotAsync(QemuProcess qemu, string directory, string name)
    {
        var registers = await HmpAsync(qemu, "info registers");
        var path = Path.Combine(directory, $"memory-{name}.bin");
        await qemu.QmpAsync("pmemsave", new { val = 0L, size = Memory, filename = path });
        return new Snapshot(registers, await File.ReadAllBytesAsync(path));
    }

    private static async Task<byte> FirstByteAsync(QemuProcess qemu, long address)
    {
        // "0000000000200000: 0x05"
        var line = (await HmpAsync(qemu, $"xp /1bx 0x{address:x}")).Trim();
        return byte.Parse(line[(line.LastIndexOf("0x", StringComparison.Ordinal) + 2)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    private static async Task<string> HmpAsync(QemuProcess qemu, string command) =>
        (await qemu.QmpAsync("human-monitor-command", new Dictionary<string, object> { ["command-line"] = command }))!.GetValue<string>();

    private sealed record Snapshot(string Registers, byte[] Memory);
}
