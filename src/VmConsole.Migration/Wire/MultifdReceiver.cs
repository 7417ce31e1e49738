using System.Buffers;
using System.IO.Pipelines;

namespace VmConsole.Migration.Wire;

/// <summary>A sink that also takes multifd pages, from the channels' own tasks, concurrently for distinct pages.</summary>
public interface IMultifdPageSink
{
    /// <summary>The writable page at <paramref name="offset"/> of <paramref name="block"/> (an index of the RAM setup), to be filled whole now.</summary>
    Span<byte> MultifdPage(int block, long offset);
}

/// <summary>
/// The receiving end of multifd (QEMU 7.2's <c>multifd_recv_thread</c>, <c>multifd_recv_sync_main</c>): one task per extra
/// connection reads its hello, then packets, and writes their pages straight into the sink; at a SYNC packet the channel
/// waits until the main stream has reached its RAM EOS, and the main stream's reader waits at each EOS until every
/// channel has sent its SYNC. So a page's versions land in the order the sender sent them, and every page of an
/// iteration is in memory before the main stream goes past it. A channel that is missing or silent at an EOS for
/// <see cref="SyncTimeout"/> fails the migration with a message naming it; a malformed packet fails it with QEMU's words.
/// </summary>
public sealed class MultifdReceiver : IAsyncDisposable
{
    /// <summary>How long the main stream waits at an EOS for the channels' SYNCs (QEMU waits forever).</summary>
    public static readonly TimeSpan SyncTimeout = TimeSpan.FromSeconds(30);

    private readonly int _channels;
    private readonly MultifdCompression _compression;
    private readonly byte[] _uuid;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _failed = new();
    private readonly TaskCompletionSource _blocksReady = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim[] _release;
    private readonly Lock _gate = new();
    private readonly List<Task> _tasks = [];

    // Under _gate.
    private readonly bool[] _connected;
    private readonly bool[] _synced;
    private int _arrived;
    private TaskCompletionSource? _waiter;
    private Exception? _error;

    // Written once by the main stream's reader before _blocksReady completes, read by the channels after it.
    private Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _blockLookup;
    private IReadOnlyList<RamBlockHeader> _blocks = [];
    private IMultifdPageSink? _sink;

    private long _pages;
    private long _bytes;
    private int _disposed;

    /// <param name="channels">multifd-channels, as set on the source.</param>
    /// <param name="compression">multifd-compression, as set on the source.</param>
    /// <param name="uuid">The destination's uuid the hellos must carry (QEMU's <c>-uuid</c>; 16 zero bytes by default).</param>
    public MultifdReceiver(int channels, MultifdCompression compression, ReadOnlySpan<byte> uuid = default, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(channels, Multifd.MaxChannels);
        _channels = channels;
        _compression = compression;
        _uuid = uuid.IsEmpty ? new byte[16] : uuid[..16].ToArray();
        _time = time ?? TimeProvider.System;
        _connected = new bool[channels];
        _synced = new bool[channels];
        _release = [.. Enumerable.Range(0, channels).Select(_ => new SemaphoreSlim(0))];
        _blockLookup = new Dictionary<byte[], int>(IdStrComparer.Instance).GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>Channels that have sent their hello.</summary>
    public int Connected
    {
        get
        {
            lock (_gate)
            {
                return _connected.Count(c => c);
            }
        }
    }

    /// <summary>Pages the channels wrote into memory.</summary>
    public long Pages => Interlocked.Read(ref _pages);

    /// <summary>Bytes the channels read (hellos, headers, payloads).</summary>
    public long BytesRead => Interlocked.Read(ref _bytes);

    /// <summary>Cancelled when a channel fails (<see cref="Error"/> says why).</summary>
    public CancellationToken Failed => _failed.Token;

    /// <summary>The first channel's failure, if any.</summary>
    public Exception? Error
    {
        get
        {
            lock (_gate)
            {
                return _error;
            }
        }
    }

    /// <summary>Starts reading an extra connection (its first bytes are the hello); it ends at the connection's end.</summary>
    public void AddChannel(PipeReader input, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(input);
        lock (_gate)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                input.Complete();
                return;
            }

            _tasks.Add(Task.Run(() => ReadChannelAsync(input, cancellation), CancellationToken.None));
        }
    }

    /// <summary>The RAM setup's blocks and the sink that holds them are ready: page packets may be written now.</summary>
    internal void SetBlocks(IReadOnlyList<RamBlockHeader> blocks, IMultifdPageSink? sink)
    {
        var index = new Dictionary<byte[], int>(IdStrComparer.Instance);
        for (var i = 0; i < blocks.Count; i++)
        {
            index[System.Text.Encoding.UTF8.GetBytes(blocks[i].IdStr)] = i;
        }

        _blockLookup = index.GetAlternateLookup<ReadOnlySpan<byte>>();
        _blocks = blocks;
        _sink = sink;
        _blocksReady.TrySetResult();
    }

    /// <summary>
    /// At a RAM EOS of the main stream: true when every channel has sent its SYNC (they may go on now); else
    /// <paramref name="wait"/> completes when they have, and the EOS is to be read again then.
    /// </summary>
    internal bool TryPassSync(out Task? wait)
    {
        lock (_gate)
        {
            if (_error is not null)
            {
                throw _error;
            }

            if (_arrived >= _channels)
            {
                _arrived -= _channels;
                Array.Clear(_synced);
                foreach (var release in _release)
                {
                    release.Release();
                }

                wait = null;
                return true;
            }

            _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _waiter.Task;
            return false;
        }
    }

    /// <summary>Waits for <paramref name="wait"/> (from <see cref="TryPassSync"/>), at most <see cref="SyncTimeout"/>; a channel's failure or the timeout is a <see cref="MigrationStreamException"/>.</summary>
    internal async Task WaitForSyncAsync(Task wait, CancellationToken cancellation)
    {
        try
        {
            await wait.WaitAsync(SyncTimeout, _time, cancellation).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new MigrationStreamException(DescribeMissing());
        }

        if (Error is { } error)
        {
            throw error;
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
        }

        await _failed.CancelAsync().ConfigureAwait(false);
        _blocksReady.TrySetCanceled();
        Task[] tasks;
        lock (_gate)
        {
            tasks = [.. _tasks];
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Each channel's failure was recorded as Error; a channel stopped by the cancel is not one.
        }

        _failed.Dispose();
        foreach (var release in _release)
        {
            release.Dispose();
        }
    }

    private string DescribeMissing()
    {
        lock (_gate)
        {
            var absent = Enumerable.Range(0, _channels).Where(i => !_connected[i]).ToArray();
            if (absent.Length > 0)
            {
                return $"multifd: {_channels - absent.Length} of {_channels} channels connected within {SyncTimeout.TotalSeconds:0} s (missing: {Names(absent)}); "
                    + "the source must use the same multifd-channels as this destination";
            }

            var silent = Enumerable.Range(0, _channels).Where(i => !_synced[i]).ToArray();
            return $"multifd: channel{(silent.Length == 1 ? "" : "s")} {Names(silent)} sent no SYNC within {SyncTimeout.TotalSeconds:0} s of the main stream's end of iteration";
        }

        static string Names(int[] ids) => ids.Length <= 8 ? string.Join(", ", ids) : string.Join(", ", ids.Take(8)) + ", ...";
    }

    /// <summary>Fails the migration from outside the channels (a connection that is not one of them).</summary>
    internal void Reject(MigrationStreamException error) => Fail(error);

    private void Fail(Exception error)
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            _error ??= error;
            waiter = _waiter;
            _waiter = null;
        }

        waiter?.TrySetResult();
        if (Volatile.Read(ref _disposed) == 0)
        {
            try
            {
                _failed.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Disposed meanwhile: nothing is left to stop.
            }
        }
    }

    private async Task ReadChannelAsync(PipeReader input, CancellationToken cancellation)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, _failed.Token);
        var token = linked.Token;
        var id = -1;
        try
        {
            id = await ReadHelloAsync(input, token).ConfigureAwait(false);
            using var channel = new ChannelReader(this, input, id);
            await channel.RunAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopped: the migration ended or another channel failed.
        }
        catch (MigrationStreamException ex)
        {
            Fail(ex);
        }
        catch (Exception ex)
        {
            Fail(new MigrationStreamException($"multifd channel {(id < 0 ? "?" : id.ToString(System.Globalization.CultureInfo.InvariantCulture))} failed: {ex.Message}", ex));
        }
        finally
        {
            await input.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task<int> ReadHelloAsync(PipeReader input, CancellationToken token)
    {
        var result = await input.ReadAtLeastAsync(Multifd.HelloLength, token).ConfigureAwait(false);
        var buffer = result.Buffer;
        if (buffer.Length < Multifd.HelloLength)
        {
            throw new MigrationStreamException($"multifd: a channel closed after {buffer.Length} bytes, before its {Multifd.HelloLength}-byte hello");
        }

        Span<byte> hello = stackalloc byte[Multifd.HelloLength];
        buffer.Slice(0, Multifd.HelloLength).CopyTo(hello);
        input.AdvanceTo(buffer.GetPosition(Multifd.HelloLength));
        var id = Multifd.ReadHello(hello, _uuid, _channels);
        lock (_gate)
        {
            if (_connected[id])
            {
                throw new MigrationStreamException($"multifd: channel {id} connected twice");
            }

            _connected[id] = true;
        }

        Interlocked.Add(ref _bytes, Multifd.HelloLength);
        return id;
    }

    /// <summary>A SYNC from channel <paramref name="id"/>: counted, and the main stream told once all have come.</summary>
    private void Synced(int id)
    {
        TaskCompletionSource? waiter = null;
        lock (_gate)
        {
            _synced[id] = true;
            _arrived++;
            if (_arrived >= _channels)
            {
                waiter = _waiter;
                _waiter = null;
            }
        }

        waiter?.TrySetResult();
    }

    /// <summary>One channel's packets, with its own buffers (made once) and decompressor.</summary>
    private sealed class ChannelReader(MultifdReceiver owner, PipeReader input, int id) : IDisposable
    {
        private readonly byte[] _header = new byte[Multifd.PacketHeaderLength];
        private readonly long[] _offsets = new long[Multifd.PagesPerPacket];
        private readonly uint _expectedFlag = Multifd.CompressionFlag(owner._compression);
        private readonly MultifdPacketDecoder? _decoder = owner._compression == MultifdCompression.None ? null : new MultifdPacketDecoder(owner._compression, id);
        /// <summary>A compressed packet's payload: one of the pipes' 1 MiB buffers, rented on the first and kept for the channel's life.</summary>
        private (IMemoryOwner<byte> Lease, byte[] Array)? _payload;

        public async Task RunAsync(CancellationToken token)
        {
            while (true)
            {
                var result = await input.ReadAtLeastAsync(Multifd.PacketHeaderLength, token).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (buffer.Length < Multifd.PacketHeaderLength)
                {
                    if (buffer.Length == 0 && result.IsCompleted)
                    {
                        return; // The sender closed the channel between packets.
                    }

                    throw new MigrationStreamException($"multifd {id}: truncated packet: the channel ended {buffer.Length} bytes into a {Multifd.PacketHeaderLength}-byte packet header");
                }

                buffer.Slice(0, Multifd.PacketHeaderLength).CopyTo(_header);
                input.AdvanceTo(buffer.GetPosition(Multifd.PacketHeaderLength));
                Interlocked.Add(ref owner._bytes, Multifd.PacketHeaderLength);
                var packet = Multifd.ReadPacketHeader(_header, id);
                if (packet.Pages > 0)
                {
                    await ReadPagesAsync(packet, token).ConfigureAwait(false);
                }

                if (packet.Sync)
                {
                    owner.Synced(id);
                    await owner._release[id].WaitAsync(token).ConfigureAwait(false);
                }
            }
        }

        public void Dispose()
        {
            _decoder?.Dispose();
            _payload?.Lease.Dispose();
        }

        private async Task ReadPagesAsync(MultifdPacketHeader packet, CancellationToken token)
        {
            var flag = packet.Flags & Multifd.FlagCompressionMask;
            if (flag != _expectedFlag)
            {
                throw new MigrationStreamException($"multifd {id}: flags received {flag:x} flags expected {_expectedFlag:x}");
            }

            await owner._blocksReady.Task.WaitAsync(token).ConfigureAwait(false);
            if (!owner._blockLookup.TryGetValue(Multifd.IdStr(_header, packet), out var block))
            {
                throw new MigrationStreamException($"multifd: unknown ram block {WireText.Lenient(Multifd.IdStr(_header, packet))}");
            }

            Multifd.ReadOffsets(_header, packet, owner._blocks[block].UsedLength, _offsets, id);
            var sink = owner._sink ?? throw new MigrationStreamException("multifd: this destination cannot take pages from multifd channels");
            var length = _decoder is null ? packet.Pages * QemuFormat.TargetPageSize : (long)packet.PayloadSize;
            if (length > MultifdPacketEncoder.OutputCapacity)
            {
                throw new MigrationStreamException($"multifd {id}: a packet payload of {length} bytes is more than {MultifdPacketEncoder.OutputCapacity} bytes for {packet.Pages} pages");
            }

            var result = await input.ReadAtLeastAsync((int)length, token).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length < length)
            {
                throw new MigrationStreamException($"multifd {id}: truncated packet: the channel ended {buffer.Length} bytes into a payload of {length} bytes");
            }

            var payload = buffer.Slice(0, length);
            if (_decoder is null)
            {
                for (var i = 0; i < packet.Pages; i++)
                {
                    payload.Slice((long)i * QemuFormat.TargetPageSize, QemuFormat.TargetPageSize).CopyTo(sink.MultifdPage(block, _offsets[i]));
                }
            }
            else
            {
                _payload ??= MultifdPacketEncoder.RentBuffer();
                payload.CopyTo(_payload.Value.Array);
                var offsets = _offsets;
                _decoder.Decode(_payload.Value.Array, (int)length, packet.Pages, i => sink.MultifdPage(block, offsets[i]));
            }

            input.AdvanceTo(payload.End);
            Interlocked.Add(ref owner._bytes, length);
            Interlocked.Add(ref owner._pages, packet.Pages);
        }
    }
}
