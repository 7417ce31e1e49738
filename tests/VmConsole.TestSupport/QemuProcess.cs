using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VmConsole.TestSupport;

/// <summary>
/// A real qemu-system-x86_64, stopped (-S, so that firmware never writes guest memory), driven over QMP and qtest on
/// unix sockets in a fresh directory. Every wait is bounded;
/// disposing kills QEMU and removes the directory. A machine without QEMU fails the test (the test command installs it).
/// </summary>
public sealed class QemuProcess : IAsyncDisposable
{
    public const string Binary = "qemu-system-x86_64";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private StreamReader? _qmpIn;
    private StreamWriter? _qmpOut;
    private StreamReader? _qtestIn;
    private StreamWriter? _qtestOut;
    private readonly List<Socket> _sockets = [];

    private QemuProcess(string directory, Process process)
    {
        Directory = directory;
        _process = process;
    }

    /// <summary>A short directory under /tmp for sockets and stream files (unix socket paths are short).</summary>
    public string Directory { get; }

    /// <summary>The QEMU process's id.</summary>
    public int Pid => _process.Id;

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static string TempDirectory()
    {
        var directory = Path.Combine("/tmp", "vmcq-" + Guid.NewGuid().ToString("N")[..10]);
        System.IO.Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>16 MiB microvm.</summary>
    public static Task<QemuProcess> StartMicrovmAsync(params string[] extra) =>
        StartAsync(["-M", "microvm", "-m", "16M", .. extra]);

    /// <summary>512 MiB q35 with a 128 MiB pc-dimm 'dimm1' on backend 'mem1'.</summary>
    public static Task<QemuProcess> StartQ35WithDimmAsync(params string[] extra) =>
        StartAsync(["-M", "q35", "-m", "512M,slots=2,maxmem=1G", "-object", "memory-backend-ram,id=mem1,size=128M", "-device", "pc-dimm,id=dimm1,memdev=mem1", .. extra]);

    /// <summary>
    /// Starts QEMU with <paramref name="machine"/>'s arguments, stopped, with QMP and (unless <paramref name="qtest"/> is
    /// false: the benchmarks run QEMU as users do, on TCG) the qtest socket for reading and writing guest memory.
    /// </summary>
    public static async Task<QemuProcess> StartAsync(IReadOnlyList<string> machine, bool qtest = true)
    {
        var binary = FindBinary() ?? throw new InvalidOperationException(
            $"{Binary} is not installed: these tests run the real QEMU 7.2. Install it with 'apt-get install qemu-system-x86' (the test command does so when it is missing).");
        var directory = TempDirectory();
        var info = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in machine)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var arg in new[] { "-S", "-nodefaults", "-display", "none", "-qmp", $"unix:{directory}/qmp,server=on,wait=off" })
        {
            info.ArgumentList.Add(arg);
        }

        if (qtest)
        {
            info.ArgumentList.Add("-qtest");
            info.ArgumentList.Add($"unix:{directory}/qtest,server=on,wait=off");
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{binary} did not start");
        var qemu = new QemuProcess(directory, process);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (qemu._stderr)
                {
                    qemu._stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        try
        {
            (qemu._qmpIn, qemu._qmpOut) = await qemu.ConnectAsync(Path.Combine(directory, "qmp"));
            if (qtest)
            {
                (qemu._qtestIn, qemu._qtestOut) = await qemu.ConnectAsync(Path.Combine(directory, "qtest"));
            }

            await qemu.ReadQmpLineAsync(); // the greeting
            await qemu.QmpAsync("qmp_capabilities");
            return qemu;
        }
        catch
        {
            await qemu.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a QMP command; its "return", or an exception with QEMU's error.</summary>
    public async Task<JsonNode?> QmpAsync(string command, object? arguments = null)
    {
        var request = arguments is null
            ? JsonSerializer.Serialize(new { execute = command })
            : JsonSerializer.Serialize(new { execute = command, arguments });
        try
        {
            await _qmpOut!.WriteLineAsync(request).WaitAsync(Timeout);
        }
        catch (IOException ex)
        {
            await _process.WaitForExitAsync().WaitAsync(Timeout);
            throw new InvalidOperationException($"QEMU is gone (exit code {_process.ExitCode}) before QMP {command}; stderr: {Stderr}", ex);
        }

        while (true)
        {
            var reply = JsonNode.Parse(await ReadQmpLineAsync())!;
            if (reply["error"] is { } error)
            {
                throw new InvalidOperationException($"QMP {command}: {error["desc"]}; stderr: {Stderr}");
            }

            if (reply.AsObject().ContainsKey("return"))
            {
                return reply["return"];
            }
        }
    }

    /// <summary>Reads QMP lines until an event named <paramref name="name"/> for which <paramref name="match"/> holds; its data.</summary>
    public async Task<JsonNode?> WaitEventAsync(string name, Func<JsonNode?, bool> match)
    {
        while (true)
        {
            var message = JsonNode.Parse(await ReadQmpLineAsync())!;
            if (message["event"]?.GetValue<string>() == name && match(message["data"]))
            {
                return message["data"];
            }
        }
    }

    /// <summary>A qtest command; its OK line (FAIL throws).</summary>
    public async Task<string> QtestAsync(string line)
    {
        await _qtestOut!.WriteLineAsync(line).WaitAsync(Timeout);
        while (true)
        {
            var reply = await _qtestIn!.ReadLineAsync().WaitAsync(Timeout)
                ?? throw new InvalidOperationException($"qtest closed; stderr: {Stderr}");
            if (reply.StartsWith("OK", StringComparison.Ordinal))
            {
                return reply;
            }

            if (reply.StartsWith("FAIL", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"qtest '{line}': {reply}");
            }
        }
    }

    public Task WritebAsync(long address, byte value) => QtestAsync($"writeb 0x{address:x} 0x{value:x2}");

    public Task WriteAsync(long address, byte[] data) => QtestAsync($"write 0x{address:x} {data.Length} 0x{Convert.ToHexStringLower(data)}");

    public async Task<byte[]> ReadAsync(long address, int length)
    {
        var reply = await QtestAsync($"read 0x{address:x} {length}");
        return Convert.FromHexString(reply["OK 0x".Length..].Trim());
    }

    /// <summary>Waits (bounded, 60 s) until query-migrate says completed, or throws on failed.</summary>
    public async Task<JsonNode> WaitMigrationAsync()
    {
        JsonNode info = null!;
        string? status = null;
        await Eventually.UntilAsync(
            async () =>
            {
                info = (await QmpAsync("query-migrate"))!;
                status = info["status"]?.GetValue<string>();
                if (status is "failed" or "cancelled")
                {
                    throw new InvalidOperationException($"QEMU migration {status}: {info["error-desc"]}; stderr: {Stderr}");
                }

                return status == "completed";
            },
            TimeSpan.FromSeconds(60),
            () => $"QEMU migration still '{status}'; stderr: {Stderr}");
        return info;
    }

    /// <summary>Waits (bounded, 60 s) until QEMU has left inmigrate; its run state.</summary>
    public async Task<string> WaitIncomingDoneAsync()
    {
        string status = "inmigrate";
        await Eventually.UntilAsync(
            async () =>
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"QEMU exited with {_process.ExitCode}: {Stderr}");
                }

                status = (await QmpAsync("query-status"))!["status"]!.GetValue<string>();
                return status != "inmigrate";
            },
            TimeSpan.FromSeconds(60),
            () => $"QEMU still in inmigrate; stderr: {Stderr}");
        var migrate = await QmpAsync("query-migrate");
        if (migrate?["status"]?.GetValue<string>() is "failed")
        {
            throw new InvalidOperationException($"QEMU incoming migration failed: {migrate["error-desc"]}; stderr: {Stderr}");
        }

        return status;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().WaitAsync(Timeout);
        _process.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    /// <summary>
    /// Kills every QEMU process whose command line names <paramref name="directory"/> (the runtime directory a test gave
    /// its QEMU hosts) and waits until they are gone: how a test that let the console start processes ends them all.
    /// </summary>
    public static async Task KillAllUnderAsync(string directory)
    {
        var pids = new List<int>();
        foreach (var proc in System.IO.Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var cmdline = await File.ReadAllTextAsync(Path.Combine(proc, "cmdline"));
                if (cmdline.Contains(Binary, StringComparison.Ordinal) && cmdline.Contains(directory, StringComparison.Ordinal))
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
                // Gone meanwhile.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours.
            }
        }

        foreach (var pid in pids)
        {
            VmConsole.Qemu.Processes.QemuInstance.Kill(pid);
        }

        await Eventually.Until(
            () => pids.All(p => !VmConsole.Qemu.Processes.QemuInstance.IsProcessAlive(p)),
            TimeSpan.FromSeconds(30),
            () => $"QEMU processes {string.Join(", ", pids)} outlived their test");
    }

    /// <summary>Whether <see cref="Binary"/> is on the PATH.</summary>
    public static bool IsInstalled => FindBinary() is not null;

    private static string? FindBinary()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            var path = Path.Combine(dir, Binary);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    private async Task<string> ReadQmpLineAsync() =>
        await _qmpIn!.ReadLineAsync().WaitAsync(Timeout) ?? throw new InvalidOperationException($"QMP closed; stderr: {Stderr}");

    /// <summary>Connects to a socket QEMU is about to listen on (bounded, 15 s).</summary>
    private async Task<(StreamReader, StreamWriter)> ConnectAsync(string path)
    {
        Socket? connected = null;
        await Eventually.UntilAsync(
            async () =>
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"QEMU exited with {_process.ExitCode}: {Stderr}");
                }

                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
                    connected = socket;
                    return true;
                }
                catch (SocketException)
                {
                    socket.Dispose();
                    return false;
                }
            },
            TimeSpan.FromSeconds(15),
            () => $"QEMU's socket {path} refused connections; stderr: {Stderr}");
        _sockets.Add(connected!);
        var stream = new NetworkStream(connected!, ownsSocket: false);
        return (new StreamReader(stream, Encoding.UTF8), new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" });
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"qemu pid {_process.Id}");
}
