using System.Diagnostics;
using VmConsole.Qemu.Qmp;

namespace VmConsole.Qemu.Tests;

/// <summary>The QMP client against a real QEMU 7.2 (installed by the test command when missing); every process it starts ends.</summary>
public sealed class QmpClientQemuTests : IAsyncLifetime
{
    private readonly string _directory = QemuProcess.TempDirectory();
    private Process? _qemu;

    private string Monitor => Path.Combine(_directory, "qmp");

    public Task InitializeAsync()
    {
        var info = new ProcessStartInfo(QemuProcess.Binary) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "-name", "qmp-test", "-M", "q35", "-m", "256M,slots=2,maxmem=1G", "-object", "memory-backend-ram,id=mem1,size=64M", "-object", "memory-backend-ram,id=spare,size=32M", "-device", "pc-dimm,id=dimm1,memdev=mem1", "-nodefaults", "-display", "none", "-S", "-qmp", $"unix:{Monitor},server=on,wait=off" })
        {
            info.ArgumentList.Add(arg);
        }

        _qemu = Process.Start(info) ?? throw new InvalidOperationException("qemu-system-x86_64 did not start");
        _qemu.BeginErrorReadLine();
        _qemu.BeginOutputReadLine();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_qemu is { HasExited: false })
        {
            _qemu.Kill(entireProcessTree: true);
        }

        await _qemu!.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        _qemu.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task RealQemu_QueriesAnswerAndASecondClientIsNotGreetedUntilQuit()
    {
        await using var client = await ConnectAsync(QmpTimeouts.Default);

        Assert.Equal((7, 2), (client.Version.Major, client.Version.Minor));
        Assert.Equal("prelaunch", (await client.ExecuteAsync("query-status")).GetProperty("status").GetString());
        var blocks = (await client.ExecuteAsync("x-query-ramblock")).GetProperty("human-readable-text").GetString()!;
        Assert.Contains("Block Name", blocks, StringComparison.Ordinal);
        Assert.Contains("mem1", blocks, StringComparison.Ordinal);
        var memdevs = (await client.ExecuteAsync("query-memdev")).EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToList();
        Assert.Contains("spare", memdevs);
        var table = VmConsole.Qemu.Memory.QemuRamBlockTable.Join(
            VmConsole.Qemu.Memory.QemuRamBlockTable.Parse(blocks), await client.ExecuteAsync("query-memdev"), await client.ExecuteAsync("query-memory-devices"));
        Assert.Contains(table, b => b is { IdStr: "pc.ram", UsedLength: 256L << 20, BackendId: "pc.ram", Migratable: true });
        Assert.Contains(table, b => b is { IdStr: "mem1", UsedLength: 64L << 20, BackendId: "mem1", DeviceId: "dimm1", Migratable: true });
        Assert.Contains(table, b => b is { IdStr: "", UsedLength: 32L << 20, BackendId: "spare", Migratable: false });
        var refused = await Assert.ThrowsAsync<QmpException>(() => client.ExecuteAsync("object-del", new Dictionary<string, object> { ["id"] = "mem1" }));
        Assert.Equal("GenericError", refused.ErrorClass);

        // QMP serves one client: a second one connects but is not greeted while this one holds the monitor.
        var second = await Assert.ThrowsAsync<QmpTimeoutException>(() => QmpClient.ConnectAsync(Monitor, QmpTimeouts.Default with { Short = TimeSpan.FromSeconds(1) }));
        Assert.Contains("another client may hold it", second.Message, StringComparison.Ordinal);

        var running = client.WaitForEventAsync("RESUME", null, TimeSpan.FromSeconds(30));
        await client.ExecuteAsync("cont");
        await running;
        await client.ExecuteAsync("quit");

        // QEMU answers, exits and the monitor closes (its SHUTDOWN event may or may not get out first).
        await client.Closed.WaitAsync(TimeSpan.FromSeconds(30));
        await _qemu!.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("closed its monitor", client.CloseReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RealQemu_KilledMidCommand_TheCommandFailsAndTheClientSaysSo()
    {
        await using var client = await ConnectAsync(QmpTimeouts.Default);
        await client.ExecuteAsync("cont");

        // A dirty-rate measurement takes a second in QEMU: the process dies while the console waits for its result.
        await client.ExecuteAsync("calc-dirty-rate", new Dictionary<string, object> { ["calc-time"] = 1 });
        var waiting = client.WaitForEventAsync("NEVER_SENT", null, TimeSpan.FromSeconds(60));
        _qemu!.Kill(entireProcessTree: true);

        await Assert.ThrowsAsync<QmpDisconnectedException>(() => waiting);
        await client.Closed.WaitAsync(TimeSpan.FromSeconds(30));
        await Assert.ThrowsAsync<QmpDisconnectedException>(() => client.ExecuteAsync("query-status"));
    }

    /// <summary>Connects once QEMU listens (it creates the socket a moment after it starts).</summary>
    private async Task<QmpClient> ConnectAsync(QmpTimeouts timeouts)
    {
        QmpClient? client = null;
        await Eventually.UntilAsync(
            async () =>
            {
                Assert.False(_qemu!.HasExited, $"QEMU exited with {(_qemu.HasExited ? _qemu.ExitCode : 0)}");
                try
                {
                    client = await QmpClient.ConnectAsync(Monitor, timeouts);
                    return true;
                }
                catch (QmpDisconnectedException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            () => $"QEMU's monitor {Monitor} never accepted a connection");
        return client!;
    }
}
