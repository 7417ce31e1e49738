using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Memory;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>
/// The sending end of multifd (QEMU 7.2's <c>multifd_send_pages</c>, <c>multifd_send_thread</c>,
/// <c>multifd_send_sync_main</c>): the precopy worker queues the non-zero pages of a pass (<see cref="Queue"/>), in
/// packets of up to 128 pages of one block; a packet goes to whichever channel is free, whose task reads the pages from
/// guest memory and writes header and pages (raw, or through the channel's own zlib or zstd stream). Before every RAM EOS
/// <see cref="SyncAsync"/> sends one SYNC packet on each channel, after every packet queued before it. Each channel has its
/// buffers made once; a page costs no allocation.
/// </summary>
internal sealed class MultifdSender : IAsyncDisposable
{
    private readonly PipeWriter[] _outputs;
    private readonly MultifdCompression _compression;
    private readonly int _level;
    private readonly byte[][] _idStrs;
    private readonly GuestMemoryAccess[] _memory;
    private readonly Channel<Packet> _jobs;
    private readonly Channel<Packet> _free;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _workers;
    /// <summary>
    /// Per channel: let go after the SYNC it wrote, once every channel has written one. One each, not one shared: a
    /// channel slow to reach its wait would find its release taken by a faster one, which would then send a second SYNC.
    /// </summary>
    private readonly SemaphoreSlim[] _syncRelease;
    private readonly List<Packet> _ready = [];

    // Written by the workers: SYNCs written in the current round (Interlocked), and the first failure.
    private int _syncsWritten;
    private TaskCompletionSource _syncsDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _error;

    private Packet? _current;
    private long _packetNumber;
    private long _transferred;
    private bool _disposed;

    /// <param name="outputs">One writer per channel, in channel id order; each gets its hello first.</param>
    /// <param name="blocks">The migration's blocks in the order of the RAM setup (the indexes <see cref="Queue"/> takes).</param>
    public MultifdSender(IReadOnlyList<PipeWriter> outputs, MultifdCompression compression, int level, IReadOnlyList<RamBlock> blocks)
    {
        _outputs = [.. outputs];
        _syncRelease = [.. _outputs.Select(_ => new SemaphoreSlim(0))];
        _compression = compression;
        _level = level;
        _idStrs = [.. blocks.Select(b => System.Text.Encoding.UTF8.GetBytes(b.IdStr))];
        _memory = [.. blocks.Select(b => b.AcquireMemory())];
        _jobs = Channel.CreateBounded<Packet>(new BoundedChannelOptions(_outputs.Length) { SingleWriter = true });
        _free = Channel.CreateUnbounded<Packet>();
        for (var i = 0; i < (2 * _outputs.Length) + 4; i++)
        {
            _free.Writer.TryWrite(new Packet());
        }

        _workers = [.. Enumerable.Range(0, _outputs.Length).Select(i => Task.Run(() => RunChannelAsync(i)))];
    }

    /// <summary>Bytes handed to the channels (each packet's header and its pages uncompressed, as QEMU counts them).</summary>
    public long Transferred => Interlocked.Read(ref _transferred);

    /// <summary>Whether packets are full and wait for <see cref="DispatchAsync"/>.</summary>
    public bool HasReady => _ready.Count > 0;

    /// <summary>Adds a non-zero page to the packet being filled; a full packet, or one of another block, becomes ready.</summary>
    public void Queue(int block, long offset)
    {
        if (_current is { } current && (current.Block != block || current.Count == Multifd.PagesPerPacket))
        {
            _ready.Add(current);
            _current = null;
        }

        _current ??= Rent(block);
        _current.Offsets[_current.Count++] = offset;
    }

    /// <summary>Hands the ready packets to the channels, waiting while every channel is busy.</summary>
    public async Task DispatchAsync(CancellationToken cancellationToken)
    {
        foreach (var packet in _ready)
        {
            await SendAsync(packet, cancellationToken).ConfigureAwait(false);
        }

        _ready.Clear();
    }

    /// <summary>
    /// Before a RAM EOS: every page queued goes out, then one SYNC packet per channel; returns once each channel has
    /// written its SYNC (a SYNC follows every packet its channel took before it).
    /// </summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        if (_current is { Count: > 0 })
        {
            _ready.Add(_current);
            _current = null;
        }

        await DispatchAsync(cancellationToken).ConfigureAwait(false);
        _syncsDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _syncsWritten, 0);
        for (var i = 0; i < _outputs.Length; i++)
        {
            var sync = Rent(-1);
            sync.Sync = true;
            await SendAsync(sync, cancellationToken).ConfigureAwait(false);
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        try
        {
            await _syncsDone.Task.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_error is not null && !cancellationToken.IsCancellationRequested)
        {
            throw Failure();
        }

        // Each channel took exactly one SYNC and waited there: the next round may start.
        foreach (var release in _syncRelease)
        {
            release.Release();
        }
    }

    /// <summary>After the last SYNC: the channels close their connections cleanly.</summary>
    public async Task CompleteAsync()
    {
        _jobs.Writer.TryComplete();
        await Task.WhenAll(_workers).ConfigureAwait(false);
        if (_error is not null)
        {
            throw Failure();
        }

        foreach (var output in _outputs)
        {
            await output.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops the channels and completes their connections with <paramref name="error"/>, so that a receiver sees the end.</summary>
    public async Task AbortAsync(Exception error)
    {
        _jobs.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await WaitForWorkersAsync().ConfigureAwait(false);
        foreach (var output in _outputs)
        {
            await output.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _jobs.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await WaitForWorkersAsync().ConfigureAwait(false);
        foreach (var memory in _memory)
        {
            memory.Dispose();
        }

        _stop.Dispose();
        foreach (var release in _syncRelease)
        {
            release.Dispose();
        }
    }

    private async Task WaitForWorkersAsync()
    {
        try
        {
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A worker's failure is in _error.
        }
    }

    private Packet Rent(int block)
    {
        if (!_free.Reader.TryRead(out var packet))
        {
            packet = new Packet(); // The pool covers every packet in flight; this only guards against miscounting.
        }

        packet.Block = block;
        packet.Count = 0;
        packet.Sync = false;
        return packet;
    }

    private async Task SendAsync(Packet packet, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref _transferred, Multifd.PacketHeaderLength + ((long)packet.Count * QemuFormat.TargetPageSize));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        try
        {
            await _jobs.Writer.WriteAsync(packet, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (_error is not null && ex is OperationCanceledException or ChannelClosedException && !cancellationToken.IsCancellationRequested)
        {
            throw Failure();
        }
    }

    private IOException Failure() => _error as IOException ?? new IOException($"multifd channel failed: {_error!.Message}", _error);

    private async Task RunChannelAsync(int id)
    {
        var output = _outputs[id];
        var token = _stop.Token;
        using var encoder = _compression == MultifdCompression.None ? null : new MultifdPacketEncoder(_compression, _level);
        try
        {
            Multifd.WriteHello(output.GetSpan(Multifd.HelloLength), new byte[16], (byte)id);
            output.Advance(Multifd.HelloLength);
            await FlushAsync(output, token).ConfigureAwait(false);
            await foreach (var packet in _jobs.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                WritePacket(output, packet, encoder);
                var sync = packet.Sync;
                _free.Writer.TryWrite(packet);
                await FlushAsync(output, token).ConfigureAwait(false);
                if (sync)
                {
                    if (Interlocked.Increment(ref _syncsWritten) == _outputs.Length)
                    {
                        _syncsDone.TrySetResult();
                    }

                    await _syncRelease[id].WaitAsync(token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopped by an abort.
        }
        catch (Exception ex)
        {
            Interlocked.CompareExchange(ref _error, ex, null);
            _stop.Cancel();
        }
    }

    private void WritePacket(PipeWriter output, Packet packet, MultifdPacketEncoder? encoder)
    {
        var number = (ulong)(Interlocked.Increment(ref _packetNumber) - 1);
        var flags = packet.Sync ? Multifd.FlagSync : 0;
        ReadOnlySpan<long> offsets = packet.Offsets.AsSpan(0, packet.Count);
        ReadOnlySpan<byte> idStr = packet.Block >= 0 ? _idStrs[packet.Block] : [];
        if (packet.Count == 0)
        {
            Multifd.WritePacketHeader(output.GetSpan(Multifd.PacketHeaderLength), flags, offsets, 0, number, idStr);
            output.Advance(Multifd.PacketHeaderLength);
            return;
        }

        var memory = _memory[packet.Block];
        if (encoder is null)
        {
            Multifd.WritePacketHeader(output.GetSpan(Multifd.PacketHeaderLength), flags, offsets, offsets.Length * QemuFormat.TargetPageSize, number, idStr);
            output.Advance(Multifd.PacketHeaderLength);
            foreach (var offset in offsets)
            {
                memory.Span(offset, QemuFormat.TargetPageSize).CopyTo(output.GetSpan(QemuFormat.TargetPageSize));
                output.Advance(QemuFormat.TargetPageSize);
            }

            return;
        }

        encoder.Begin();
        foreach (var offset in offsets)
        {
            encoder.Add(memory.Span(offset, QemuFormat.TargetPageSize));
        }

        var payload = encoder.Finish();
        flags |= Multifd.CompressionFlag(_compression);
        Multifd.WritePacketHeader(output.GetSpan(Multifd.PacketHeaderLength), flags, offsets, payload.Length, number, idStr);
        output.Advance(Multifd.PacketHeaderLength);
        output.Write(payload);
    }

    private static async Task FlushAsync(PipeWriter output, CancellationToken token)
    {
        var result = await output.FlushAsync(token).ConfigureAwait(false);
        if (result.IsCompleted)
        {
            throw new IOException("multifd channel closed by the peer");
        }
    }

    /// <summary>A packet on its way: its block (an index of the RAM setup), its pages' offsets, SYNC or not.</summary>
    private sealed class Packet
    {
        public int Block { get; set; }

        public long[] Offsets { get; } = new long[Multifd.PagesPerPacket];

        public int Count { get; set; }

        public bool Sync { get; set; }
    }
}
