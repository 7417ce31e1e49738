using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VmConsole.Benchmarks.Engine;

/// <summary>
/// A qemu-system-x86_64 started stopped (-S) and driven over QMP on a unix socket. Disposing kills it (it is ours:
/// killed by its own Process object) and removes its socket.
/// </summary>
internal sealed class QemuInstance : IAsyncDisposable
{
    public const string Binary = "/usr/bin/qemu-system-x86_64";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly string _qmpPath;
    private readonly StringBuilder _stderr = new();
    private Socket? _socket;
    private StreamReader? _in;
    private StreamWriter? _out;

    private QemuInstance(Process process, string qmpPath)
    {
        _process = process;
        _qmpPath = qmpPath;
    }

    public int ProcessId => _process.Id;

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

    public static async Task<QemuInstance> StartAsync(string qmpPath, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(Binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var argument in new[] { "-S", "-nodefaults", "-display", "none", "-qmp", $"unix:{qmpPath},server=on,wait=off" })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{Binary} did not start.");
        var qemu = new QemuInstance(process, qmpPath);
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
            await qemu.ConnectAsync(cancellationToken).ConfigureAwait(false);
            await qemu.ReadLineAsync(cancellationToken).ConfigureAwait(false); // the greeting
            await qemu.ExecuteAsync("qmp_capabilities", null, cancellationToken).ConfigureAwait(false);
            return qemu;
        }
        catch
        {
            await qemu.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs a QMP command; its "return", or an exception with QEMU's error. Events in between are skipped.</summary>
    public async Task<JsonNode?> ExecuteAsync(string command, object? arguments, CancellationToken cancellationToken)
    {
        var request = arguments is null
            ? JsonSerializer.Serialize(new { execute = command })
            : JsonSerializer.Serialize(new { execute = command, arguments });
        await _out!.WriteLineAsync(request.AsMemory(), cancellationToken).WaitAsync(Timeout, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var reply = JsonNode.Parse(await ReadLineAsync(cancellationToken).ConfigureAwait(false))!;
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
    public async Task<JsonNode?> WaitEventAsync(string name, Func<JsonNode?, bool> match, CancellationToken cancellationToken)
    {
        while (true)
        {
            var message = JsonNode.Parse(await ReadLineAsync(cancellationToken).ConfigureAwait(false))!;
            if (message["event"]?.GetValue<string>() == name && match(message["data"]))
            {
                return message["data"];
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket?.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(Timeout).ConfigureAwait(false);
        _process.Dispose();
        File.Delete(_qmpPath);
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"QEMU exited with {_process.ExitCode}: {Stderr}");
            }

            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(_qmpPath), cancellationToken).ConfigureAwait(false);
                _socket = socket;
                var stream = new NetworkStream(socket, ownsSocket: false);
                _in = new StreamReader(stream, Encoding.UTF8);
                _out = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
                return;
            }
            catch (SocketException) when (deadline.Elapsed < Timeout)
            {
                socket.Dispose();
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken) =>
        await _in!.ReadLineAsync(cancellationToken).AsTask().WaitAsync(Timeout, cancellationToken).ConfigureAwait(false)
        ?? throw new InvalidOperationException($"QEMU closed QMP; stderr: {Stderr}");
}
