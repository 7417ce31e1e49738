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
