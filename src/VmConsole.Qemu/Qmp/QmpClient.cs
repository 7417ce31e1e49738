using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace VmConsole.Qemu.Qmp;

/// <summary>
/// One QEMU monitor (QMP over a unix socket), owned by this client: QMP allows one client per monitor, and a second
/// one is not greeted until the first leaves (DESIGN.md section 10). Connecting reads the greeting and negotiates
/// <c>qmp_capabilities</c>. Each command carries an id and its reply is matched by it; events are raised as they
/// come, in order, between replies; each command has a time limit (<see cref="QmpTimeouts"/>) after which it fails
/// and its late reply is dropped. When QEMU exits or closes the monitor, every pending command fails with
/// <see cref="QmpDisconnectedException"/> and <see cref="Closed"/> completes. Thread-safe.
/// </summary>
public sealed partial class QmpClient : IAsyncDisposable
{
    /// <summary>The longest line QEMU may send (an <c>x-query-ramblock</c> of 10,000 blocks is about 1 MiB).</summary>
    public const int MaxLineBytes = 64 << 20;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly QmpTimeouts _timeouts;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly ConcurrentDictionary<string, (string Command, TaskCompletionSource<JsonElement> Reply)> _pending = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource<QmpVersion> _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _readLoop;
    private long _nextId;

    // Set once, when the connection ends; read by whoever sends next.
    private QmpDisconnectedException? _closeReason;

    private QmpClient(Socket socket, string path, QmpTimeouts timeouts, TimeProvider time)
    {
        _socket = socket;
        Path = path;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 << 10, leaveOpen: true));
        _timeouts = timeouts;
        _time = time;
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>An event QEMU sent, raised on the client's reader, in the order QEMU sent them. A handler must not block.</summary>
    public event Action<QmpEvent>? EventReceived;

    /// <summary>The monitor socket.</summary>
    public string Path { get; }

    /// <summary>The QEMU version the greeting announced.</summary>
    public QmpVersion Version => _greeting.Task.IsCompletedSuccessfully ? _greeting.Task.Result : new QmpVersion(0, 0, 0, "");

    /// <summary>Completes (never faults) when the connection has ended; <see cref="CloseReason"/> then says why.</summary>
    public Task Closed => _closed.Task;

    /// <summary>Why the connection ended (QEMU exited, closed the monitor, sent something that is not QMP), or null while open.</summary>
    public string? CloseReason => Volatile.Read(ref _closeReason)?.Message;

    /// <summary>Connects to the monitor at <paramref name="socketPath"/>, reads the greeting and sends <c>qmp_capabilities</c>.</summary>
    /// <exception cref="QmpDisconnectedException">Nothing listens there, or QEMU went away during the handshake.</exception>
    /// <exception cref="QmpTimeoutException">No greeting in time: another client holds the monitor, or QEMU hangs.</exception>
    public static async Task<QmpClient> ConnectAsync(string socketPath, QmpTimeouts? timeouts = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new QmpDisconnectedException($"Cannot connect to QEMU's monitor at {socketPath}: {ex.Message}.", ex);
        }

        var client = new QmpClient(socket, socketPath, timeouts ?? QmpTimeouts.Default, time ?? TimeProvider.System);
        try
        {
            await client.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="command"/> with <paramref name="arguments"/> (an object serialized as QMP's arguments, with
    /// its names as given: use a dictionary for names such as <c>calc-time</c>) and returns QEMU's <c>return</c> value.
    /// </summary>
    /// <exception cref="QmpException">QEMU answered with an error.</exception>
    /// <exception cref="QmpTimeoutException">No answer within <paramref name="timeout"/> (default: <see cref="QmpTimeouts"/>).</exception>
    /// <exception cref="QmpDisconnectedException">The connection ended before the answer, or had ended already.</exception>
    public async Task<JsonElement> ExecuteAsync(string command, object? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (!CommandName().IsMatch(command))
        {
            throw new ArgumentException($"'{command}' is not a QMP command name.", nameof(command));
        }

        var id = "vmc-" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = (command, reply);

        // Closed before (or while) it was registered: Close fails what it finds, so fail this one here.
        if (Volatile.Read(ref _closeReason) is { } closed)
        {
            _pending.TryRemove(id, out _);
            throw new QmpDisconnectedException($"QEMU's monitor is closed ({closed.Message}); '{command}' was not sent.", closed);
        }

        await SendAsync(command, id, Encode(command, arguments, id), cancellationToken).ConfigureAwait(false);
        var limit = timeout ?? _timeouts.For(command);
        try
        {
            return await reply.Task.WaitAsync(limit, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _pending.TryRemove(id, out _);
            throw new QmpTimeoutException(command, limit);
        }
        catch (OperationCanceledException)
        {
            _pending.TryRemove(id, out _);
            throw;
        }
    }

    /// <summary>Waits for the next event named <paramref name="name"/> (that <paramref name="match"/> accepts) sent from now on.</summary>
    /// <exception cref="QmpTimeoutException">None within <paramref name="timeout"/>.</exception>
    /// <exception cref="QmpDisconnectedException">The connection ended first.</exception>
    public async Task<QmpEvent> WaitForEventAsync(string name, Func<QmpEvent, bool>? match, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var seen = new TaskCompletionSource<QmpEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnEvent(QmpEvent e)
        {
            if (e.Name == name && (match is null || match(e)))
            {
                seen.TrySetResult(e);
            }
        }

        EventReceived += OnEvent;
        try
        {
            var ended = await Task.WhenAny(seen.Task, Closed).WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
            return ended == seen.Task
                ? await seen.Task.ConfigureAwait(false)
                : throw new QmpDisconnectedException($"QEMU's monitor closed before event {name} ({CloseReason}).");
        }
        catch (TimeoutException)
        {
            throw new QmpTimeoutException(name, timeout, $"QEMU sent no {name} event within {timeout.TotalSeconds:0.#} s.");
        }
        finally
        {
            EventReceived -= OnEvent;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Close(new QmpDisconnectedException("The console closed the monitor connection."));
        _socket.Dispose();
        try
        {
            // Letting go never throws: how the reader ended was said through Closed already (or is moot now).
            await _readLoop.ConfigureAwait(false);
            await _reader.CompleteAsync().ConfigureAwait(false);
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Close(new QmpDisconnectedException($"The monitor connection ended with an error: {ex.Message}", ex));
        }

        _writeGate.Dispose();
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAny(_greeting.Task, Closed).WaitAsync(_timeouts.Short, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new QmpTimeoutException(
                "greeting", _timeouts.Short,
                $"QEMU's monitor at {Path} did not greet within {_timeouts.Short.TotalSeconds:0.#} s: another client may hold it (QMP serves one at a time), or QEMU hangs.");
        }

        if (!_greeting.Task.IsCompletedSuccessfully)
        {
            throw new QmpDisconnectedException($"QEMU's monitor at {Path} closed before it greeted ({CloseReason}).");
        }

        await ExecuteAsync("qmp_capabilities", cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private async Task SendAsync(string command, string id, byte[] line, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(line, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _pending.TryRemove(id, out _);
            throw new QmpDisconnectedException($"Could not send '{command}' to QEMU: {ex.Message}.", ex);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private static byte[] Encode(string command, object? arguments, string id)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("execute", command);
            if (arguments is not null)
            {
                json.WritePropertyName("arguments");
                JsonSerializer.Serialize(json, arguments, arguments.GetType());
            }

            json.WriteString("id", id);
            json.WriteEndObject();
        }

        return [.. buffer.WrittenSpan, (byte)'\n'];
    }

    private async Task ReadLoopAsync()
    {
        QmpDisconnectedException reason;
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    Dispatch(buffer.Slice(0, end));
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                }

                if (buffer.Length > MaxLineBytes)
                {
                    throw new InvalidDataException($"QEMU sent a line longer than {MaxLineBytes >> 20} MiB.");
                }

                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            reason = new QmpDisconnectedException("QEMU closed its monitor (the process exited or quit).");
        }
        catch (Exception ex) when (IsReset(ex))
        {
            // What an exiting QEMU's socket usually says when it had unread input: the same end as a clean close.
            reason = new QmpDisconnectedException("QEMU closed its monitor (the process exited or quit).", ex);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            reason = new QmpDisconnectedException($"The connection to QEMU's monitor broke: {ex.Message}.", ex);
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException)
        {
            reason = new QmpDisconnectedException($"QEMU sent something that is not QMP: {ex.Message}", ex);
        }

        Close(reason);
    }

    private void Dispatch(ReadOnlySequence<byte> line)
    {
        if (line.IsEmpty || (line.Length == 1 && line.FirstSpan[0] == (byte)'\r'))
        {
            return;
        }

        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException($"a line that is not an object: {Preview(line)}");
        }

        if (root.TryGetProperty("QMP", out var greeting))
        {
            _greeting.TrySetResult(ParseVersion(greeting));
        }
        else if (root.TryGetProperty("event", out var name))
        {
            var data = root.TryGetProperty("data", out var d) ? d.Clone() : EmptyObject;
            EventReceived?.Invoke(new QmpEvent(name.GetString() ?? "", data, ParseTimestamp(root)));
        }
        else if (root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String && _pending.TryRemove(id.GetString()!, out var pending))
        {
            if (root.TryGetProperty("error", out var error))
            {
                pending.Reply.TrySetException(new QmpException(
                    pending.Command,
                    error.TryGetProperty("class", out var c) ? c.GetString() ?? "" : "",
                    error.TryGetProperty("desc", out var desc) ? desc.GetString() ?? "" : ""));
            }
            else
            {
                pending.Reply.TrySetResult(root.TryGetProperty("return", out var value) ? value.Clone() : EmptyObject);
            }
        }

        // Anything else (a reply to a command that timed out, or without an id) has nobody waiting for it.
    }

    private void Close(QmpDisconnectedException reason)
    {
        if (Interlocked.CompareExchange(ref _closeReason, reason, null) is not null)
        {
            return;
        }

        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var pending))
            {
                pending.Reply.TrySetException(new QmpDisconnectedException($"QEMU's monitor closed while '{pending.Command}' was waiting for its answer: {reason.Message}", reason));
            }
        }

        _greeting.TrySetException(reason);
        _ = _greeting.Task.Exception;
        _closed.TrySetResult();
    }

    private static bool IsReset(Exception ex) =>
        (ex as SocketException ?? ex.InnerException as SocketException) is { SocketErrorCode: SocketError.ConnectionReset or SocketError.Shutdown };

    private static QmpVersion ParseVersion(JsonElement greeting)
    {
        if (greeting.TryGetProperty("version", out var version) && version.TryGetProperty("qemu", out var qemu))
        {
            return new QmpVersion(
                qemu.TryGetProperty("major", out var major) ? major.GetInt32() : 0,
                qemu.TryGetProperty("minor", out var minor) ? minor.GetInt32() : 0,
                qemu.TryGetProperty("micro", out var micro) ? micro.GetInt32() : 0,
                version.TryGetProperty("package", out var package) ? package.GetString() ?? "" : "");
        }

        return new QmpVersion(0, 0, 0, "");
    }

    private static DateTimeOffset ParseTimestamp(JsonElement root) =>
        root.TryGetProperty("timestamp", out var t) && t.TryGetProperty("seconds", out var s) && t.TryGetProperty("microseconds", out var us)
            ? DateTimeOffset.FromUnixTimeSeconds(s.GetInt64()).AddTicks(us.GetInt64() * 10)
            : DateTimeOffset.UnixEpoch;

    private static string Preview(ReadOnlySequence<byte> line)
    {
        var text = Encoding.UTF8.GetString(line.Slice(0, Math.Min(line.Length, 120)));
        return line.Length > 120 ? text + "..." : text;
    }

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    [GeneratedRegex("^[a-z][a-z0-9_-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex CommandName();
}
