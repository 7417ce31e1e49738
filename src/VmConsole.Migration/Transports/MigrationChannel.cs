using System.IO.Pipelines;
using System.Net.Sockets;

namespace VmConsole.Migration.Transports;

/// <summary>
/// The byte stream between the two ends of a migration: the sender writes <see cref="Output"/>, the receiver
/// (when it is in this process) reads <see cref="Input"/>. Large buffered writes, backpressure from the pipe.
/// </summary>
public sealed class MigrationChannel : IAsyncDisposable
{
    /// <summary>Bytes buffered before the sender waits for the receiver.</summary>
    private const long PauseWriterThreshold = 8 << 20;

    private readonly IAsyncDisposable[] _resources;

    private MigrationChannel(PipeWriter output, PipeReader? input, params IAsyncDisposable[] resources)
    {
        Output = output;
        Input = input;
        _resources = resources;
    }

    public PipeWriter Output { get; }

    /// <summary>The receiving end, when the receiver is in this process; null for an external peer.</summary>
    public PipeReader? Input { get; }

    /// <summary>A channel over ends made elsewhere (a test's fault-injecting proxy); disposing it disposes <paramref name="resources"/> in order.</summary>
    internal static MigrationChannel Create(PipeWriter output, PipeReader? input, params IAsyncDisposable[] resources) =>
        new(output, input, resources);

    /// <summary>An in-process pipe to a destination host of this server.</summary>
    public static MigrationChannel InProcess()
    {
        var pipe = new Pipe(InProcessOptions(PipeBufferPool.Segments));
        return new MigrationChannel(pipe.Writer, pipe.Reader);
    }

    /// <summary>The in-process pipe's options over <paramref name="pool"/> (tests give it a pool of their own).</summary>
    internal static PipeOptions InProcessOptions(System.Buffers.MemoryPool<byte> pool) =>
        new(pool: pool, pauseWriterThreshold: PauseWriterThreshold, resumeWriterThreshold: PauseWriterThreshold / 2, minimumSegmentSize: 64 << 10, useSynchronizationContext: false);

    /// <summary>Connects to a peer listening on <paramref name="uri"/> (unix or tcp), or creates the file for <c>file:</c>.</summary>
    public static async Task<MigrationChannel> ConnectAsync(MigrationUri uri, CancellationToken cancellationToken)
    {
        if (uri.Kind == TransportKind.File)
        {
            var file = new FileStream(uri.Path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 20, useAsync: true);
            return new MigrationChannel(PipeWriter.Create(file, new StreamPipeWriterOptions(pool: PipeBufferPool.Large, minimumBufferSize: 1 << 20)), null, file);
        }

        var socket = NewSocket(uri);
        try
        {
            await socket.ConnectAsync(EndPoint(uri), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var stream = new NetworkStream(socket, ownsSocket: true);
        return new MigrationChannel(PipeWriter.Create(stream, new StreamPipeWriterOptions(pool: PipeBufferPool.Large, minimumBufferSize: 1 << 20)), null, stream);
    }

    /// <summary>
    /// Listens on <paramref name="uri"/> (unix or tcp) for one sender; the returned task gives the receiving end
    /// once it has connected. The listener is bound before this method returns.
    /// </summary>
    public static (Task<PipeReader> Accepted, IAsyncDisposable Listener) Listen(MigrationUri uri, CancellationToken cancellationToken) =>
        Listen(uri, cancellationToken, leaveSocketOpen: false);

    private static (Task<PipeReader> Accepted, IAsyncDisposable Listener) Listen(MigrationUri uri, CancellationToken cancellationToken, bool leaveSocketOpen)
    {
        if (uri.Kind == TransportKind.File)
        {
            throw new ArgumentException("A file is read, not listened on.", nameof(uri));
        }

        if (uri.Kind == TransportKind.Unix && File.Exists(uri.Path))
        {
            File.Delete(uri.Path);
        }

        var listener = NewSocket(uri);
        listener.Bind(EndPoint(uri));
        listener.Listen(1);
        var owner = new SocketOwner(listener, uri);
        return (AcceptAsync(owner, leaveSocketOpen, cancellationToken), owner);
    }

    /// <summary>
    /// As <see cref="Listen"/>, but the task gives the accepted socket too, for a receiver that answers on it (QEMU's
    /// return path). The socket stays open when the reader is completed; the listener closes it.
    /// </summary>
    public static (Task<(PipeReader Input, Socket Socket)> Accepted, IAsyncDisposable Listener) ListenForPeer(MigrationUri uri, CancellationToken cancellationToken)
    {
        var (accepted, listener) = Listen(uri, cancellationToken, leaveSocketOpen: true);
        var owner = (SocketOwner)listener;
        return (WithSocketAsync(accepted, owner), listener);

        static async Task<(PipeReader, Socket)> WithSocketAsync(Task<PipeReader> accepted, SocketOwner owner) =>
            (await accepted.ConfigureAwait(false), owner.Accepted!);
    }

    /// <summary>
    /// Listens on <paramref name="uri"/> (unix or tcp) for several connections: a multifd migration's main connection and
    /// its channels, in whatever order they come. Bound before this returns.
    /// </summary>
    public static MultiListener ListenMany(MigrationUri uri)
    {
        if (uri.Kind == TransportKind.File)
        {
            throw new ArgumentException("A file is read, not listened on.", nameof(uri));
        }

        if (uri.Kind == TransportKind.Unix && File.Exists(uri.Path))
        {
            File.Delete(uri.Path);
        }

        var listener = NewSocket(uri);
        try
        {
            listener.Bind(EndPoint(uri));
            listener.Listen(Wire.Multifd.MaxChannels + 1);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new MultiListener(listener, uri);
    }

    /// <summary>A reader over an accepted socket, which stays open when the reader completes (its listener closes it).</summary>
    internal static PipeReader ReaderOf(Socket socket) =>
        PipeReader.Create(new NetworkStream(socket, ownsSocket: false), new StreamPipeReaderOptions(pool: PipeBufferPool.Large, bufferSize: 1 << 20));

    /// <summary>Opens a stream file to read.</summary>
    public static PipeReader OpenFile(MigrationUri uri)
    {
        var file = new FileStream(uri.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        return PipeReader.Create(file, new StreamPipeReaderOptions(pool: PipeBufferPool.Large, bufferSize: 1 << 20));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var resource in _resources)
        {
            await resource.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<PipeReader> AcceptAsync(SocketOwner owner, bool leaveSocketOpen, CancellationToken cancellationToken)
    {
        var socket = await owner.Listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
        owner.Accepted = socket;
        return PipeReader.Create(new NetworkStream(socket, ownsSocket: !leaveSocketOpen), new StreamPipeReaderOptions(pool: PipeBufferPool.Large, bufferSize: 1 << 20));
    }

    /// <summary>
    /// A unix socket's send buffer (it is also the stream's only buffer: unix sockets have no receive buffer of their
    /// own). The default 208 KiB made the sender wait on the receiver five times per 1 MiB flush; 1 MiB (which the
    /// kernel doubles, within net.core.wmem_max) took Macro A from 0.28-0.33 s to 0.26-0.27 s.
    /// </summary>
    internal const int UnixSendBuffer = 1 << 20;

    private static Socket NewSocket(MigrationUri uri) => uri.Kind == TransportKind.Unix
        ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { SendBufferSize = UnixSendBuffer }
        : new Socket(uri.Address!.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };

    private static System.Net.EndPoint EndPoint(MigrationUri uri) => uri.Kind == TransportKind.Unix
        ? new UnixDomainSocketEndPoint(uri.Path)
        : new System.Net.IPEndPoint(uri.Address!, uri.Port);

    /// <summary>A listener that accepts several connections; disposing it closes them all and the listener.</summary>
    public sealed class MultiListener : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly MigrationUri _uri;
        private readonly List<Socket> _accepted = [];
        private readonly Lock _gate = new();
        private bool _disposed;

        internal MultiListener(Socket listener, MigrationUri uri)
        {
            _listener = listener;
            _uri = uri;
        }

        /// <summary>The next connection; it is closed with the listener.</summary>
        public async Task<Socket> AcceptAsync(CancellationToken cancellationToken)
        {
            var socket = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                if (!_disposed)
                {
                    _accepted.Add(socket);
                    return socket;
                }
            }

            socket.Dispose();
            throw new ObjectDisposedException(nameof(MultiListener));
        }

        public ValueTask DisposeAsync()
        {
            Socket[] accepted;
            lock (_gate)
            {
                _disposed = true;
                accepted = [.. _accepted];
            }

            _listener.Dispose();
            foreach (var socket in accepted)
            {
                socket.Dispose();
            }

            if (_uri.Kind == TransportKind.Unix && File.Exists(_uri.Path))
            {
                File.Delete(_uri.Path);
            }

            return ValueTask.CompletedTask;
        }
    }

    private sealed class SocketOwner(Socket listener, MigrationUri uri) : IAsyncDisposable
    {
        public Socket Listener { get; } = listener;

        public Socket? Accepted { get; set; }

        public ValueTask DisposeAsync()
        {
            Listener.Dispose();
            Accepted?.Dispose();
            if (uri.Kind == TransportKind.Unix && File.Exists(uri.Path))
            {
                File.Delete(uri.Path);
            }

            return ValueTask.CompletedTask;
        }
    }
}
