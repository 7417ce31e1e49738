using VmConsole.Emulation;
using VmConsole.Qemu.Memory;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

/// <summary>Real QEMU 7.2 VMs started as the console starts them; every one started here is ended, even when a test fails.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class QemuLauncherTests : IAsyncLifetime
{
    private readonly string _directory = QemuProcess.TempDirectory();
    private readonly List<QemuInstance> _started = [];
    private readonly QemuLauncher _launcher = new(QemuLauncher.FindBinary() ?? QemuLauncher.DefaultBinary);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var qemu in _started)
        {
            qemu.Kill();
            await qemu.DisposeAsync();
            await Eventually.Until(() => !qemu.IsAlive, TimeSpan.FromSeconds(30), () => $"QEMU pid {qemu.Pid} outlived its test");
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData("pc")]
    [InlineData("q35")]
    public async Task Start_WithBackendsAndADimm_RunsDaemonizedAndItsTableIsTheSpec(string machine)
    {
        var spec = new QemuVmSpec($"{machine}-vm", machine, 256 * Sizes.MiB)
        {
            Slots = 2,
            MaxMemBytes = Sizes.GiB,
            Backends = [new QemuMemoryBackend("mem1", 64 * Sizes.MiB, "dimm1"), new QemuMemoryBackend("spare", 32 * Sizes.MiB)],
        };

        var qemu = await StartAsync(spec);

        Assert.True(qemu.IsAlive);
        Assert.Equal($"{machine}-vm", File.ReadAllText($"/proc/{qemu.Pid}/cmdline").Split('\0')[2]);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(qemu.RuntimeDirectory));
        Assert.Equal("running", (await qemu.Qmp.ExecuteAsync("query-status")).GetProperty("status").GetString());
        var table = QemuRamBlockTable.Join(
            QemuRamBlockTable.Parse((await qemu.Qmp.ExecuteAsync("x-query-ramblock")).GetProperty("human-readable-text").GetString()!),
            await qemu.Qmp.ExecuteAsync("query-memdev"),
            await qemu.Qmp.ExecuteAsync("query-memory-devices"));
        Assert.Contains(table, b => b is { IdStr: "pc.ram", UsedLength: 256L << 20, Migratable: true });
        Assert.Contains(table, b => b is { IdStr: "mem1", UsedLength: 64L << 20, DeviceId: "dimm1", Migratable: true });
        Assert.Contains(table, b => b is { IdStr: "", BackendId: "spare", UsedLength: 32L << 20, Migratable: false });

        await qemu.QuitAsync(TimeSpan.FromSeconds(30));
        Assert.False(qemu.IsAlive);
    }

    /// <summary>The sweep guest runs on real QEMU: its pages change, and a paused dump keeps the invariant.</summary>
    [Theory]
    [InlineData("pc")]
    [InlineData("q35")]
    public async Task Start_SweepGuest_DirtiesItsRangeAndKeepsTheInvariant(string machine)
    {
        var sweep = new VmConsole.Qemu.Guests.SweepGuest(2 * Sizes.MiB, 34 * Sizes.MiB);
        var qemu = await StartAsync(new QemuVmSpec($"sweep-{machine}", machine, 128 * Sizes.MiB) { Guest = sweep });
        var pages = (int)((sweep.End - sweep.Start) / VmConsole.Qemu.Guests.SweepGuest.PageSize);
        var dump = Path.Combine(qemu.RuntimeDirectory, "range.bin");

        async Task<byte[]> FirstBytesAsync()
        {
            await qemu.Qmp.ExecuteAsync("stop");
            await qemu.Qmp.ExecuteAsync("pmemsave", new Dictionary<string, object> { ["val"] = sweep.Start, ["size"] = sweep.End - sweep.Start, ["filename"] = dump });
            await qemu.Qmp.ExecuteAsync("cont");
            var bytes = await File.ReadAllBytesAsync(dump);
            return [.. Enumerable.Range(0, pages).Select(p => bytes[p * (int)VmConsole.Qemu.Guests.SweepGuest.PageSize])];
        }

        // Waits for the guest to have made two full passes: every page's first byte at least 2.
        byte[] first = [];
        await Eventually.UntilAsync(async () => (first = await FirstBytesAsync()).All(b => b >= 2), TimeSpan.FromSeconds(60), () => $"the sweep guest did not go round twice: first bytes from {first.FirstOrDefault()} to {first.LastOrDefault()}");

        Assert.Null(VmConsole.Qemu.Guests.SweepGuest.Check(first));
    }

    [Fact]
    public async Task Start_QemuRefusesTheMachine_SaysWhyInQemusWords()
    {
        // Valid for the console, impossible for QEMU: more memory than a pc's 32-bit hole allows with this many slots is
        // not it; a maxmem above QEMU's limit is.
        var spec = new QemuVmSpec("too-big", "pc", 64 * Sizes.MiB) { Slots = 256, MaxMemBytes = 1L << 50 };

        var refused = await Assert.ThrowsAsync<QemuStartException>(() => _launcher.StartAsync(spec, Path.Combine(_directory, "too-big")));

        Assert.Contains("QEMU refused to start VM 'too-big'", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("no message", refused.Message, StringComparison.Ordinal);
    }

    private async Task<QemuInstance> StartAsync(QemuVmSpec spec)
    {
        var qemu = await _launcher.StartAsync(spec, Path.Combine(_directory, spec.Name));
        _started.Add(qemu);
        return qemu;
    }
}
