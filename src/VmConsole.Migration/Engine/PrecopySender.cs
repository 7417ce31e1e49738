using System.IO.Pipelines;
using System.Numerics;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>
/// The source half of precopy (DESIGN.md section 4): the block list once, then passes over the dirty
/// pages paced by max-bandwidth in 100 ms windows, a dirty sync after each pass, and the last pass with the
/// guest stopped. Owned by one worker; not thread-safe.
/// </summary>
internal sealed partial class PrecopySender
{
    /// <summary>QEMU numbers sections in registration order; any id works as long as parts repeat it.</summary>
    public const uint RamSectionId = 2;
    public const uint StateSectionId = 3;

    private const int PageSize = QemuFormat.TargetPageSize;
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(100);

    private readonly PrecopyMigration _migration;
    private readonly Vm _source;
    private readonly MigrationLease _lease;
    private readonly PipeWriter _output;
    private readonly MigrationStreamWriter _writer;
    private readonly TimeProvider _time;

    private RamBlock[] _blocks = [];
    private ulong[][] _bitmaps = [];

    /// <summary>Per block: the pages of the used_length the setup announced; the stream may name no page beyond.</summary>
    private long[] _announcedPages = [];

    /// <summary>Per block: pages put on the wire (zero or not), and dirty pages not sent yet. Published at each flush and sync.</summary>
    private long[] _sentPages = [];
    private long[] _pendingPagesPerBlock = [];

    /// <summary>The word of pages never backed, for the bitmap word being sent.</summary>
    private readonly ulong[] _untouched = new ulong[1];

    /// <summary>With multifd: the channels that carry the non-zero pages (made at setup, once the blocks are known).</summary>
    private MultifdSender? _multifd;

    /// <summary>With the xbzrle capability: what sends non-zero pages through the XBZRLE cache (made at setup).</summary>
    private XbzrleSender? _xbzrle;

    private long _pendingPages;
    private long _flushedAt;
    private long _windowStart;
    private long _windowBytes;
    private long _lastSyncAt;
    private long _rateMarkAt;
    private long _rateMarkBytes;
    private int _throttle;

    public PrecopySender(PrecopyMigration migration, Vm source, MigrationLease lease, PipeWriter output, TimeProvider time)
    {
        _migration = migration;
        _source = source;
        _lease = lease;
        _output = output;
        _writer = new MigrationStreamWriter(output);
        _time = time;
    }

    /// <summary>Name the machine as QEMU 7.2 does in the configuration section (<c>pc-q35-7.2</c>, not <c>q35</c>), for a QEMU peer.</summary>
    public bool QemuMachineType { get; init; }

    /// <summary>With the multifd capability: one writer per channel (the transport connected them after the main one).</summary>
    public IReadOnlyList<PipeWriter>? MultifdOutputs { get; init; }

    /// <summary>Bytes sent so far: the main stream's and the multifd channels' (headers and pages, as QEMU counts them).</summary>
    private long Sent => _writer.BytesWritten + (_multifd?.Transferred ?? 0);

    /// <summary>
    /// Bytes between flushes: paced, small enough that a 100 ms window's share is met closely (at most 256 KiB);
    /// unthrottled, one pipe buffer (1 MiB), so that each flush is one large write to the transport.
    /// </summary>
    private long FlushEvery => _migration.Parameters.MaxBandwidth > 0
        ? Math.Clamp(_migration.Parameters.MaxBandwidth / 40, 16 << 10, 256 << 10)
        : 1 << 20;

    /// <summary>Header, configuration, and the RAM section's block list; every used page starts dirty.</summary>
    public async Task SetupAsync(CancellationToken cancellationToken)
    {
        var set = _lease.MigratableSet;
        _blocks = [.. set.Select(identity => _source.FindMigratable(identity.IdStr)
            ?? throw new InvalidOperationException($"Block '{identity.IdStr}' left the frozen set."))];
        RamBlockHeader[] headers = [.. set.Select(identity => new RamBlockHeader(identity.IdStr, identity.UsedLength))];
        _writer.WriteHeader();
        _writer.WriteConfiguration(QemuMachineType ? Qemu.QemuMachineTypes.ToQemuName(_source.Machine) : _source.Machine.Name);
        _writer.WriteRamSetup(RamSectionId, headers);
        if (MultifdOutputs is { } outputs)
        {
            var parameters = _migration.Parameters;
            var level = parameters.MultifdCompression == Wire.MultifdCompression.Zstd ? parameters.MultifdZstdLevel : parameters.MultifdZlibLevel;
            _multifd = new MultifdSender(outputs, parameters.MultifdCompression, level, _blocks);

            // As QEMU's ram_save_setup: the channels' first SYNC goes with the setup's EOS.
            await _multifd.SyncAsync(cancellationToken).ConfigureAwait(false);
        }

        _bitmaps = new ulong[_blocks.Length][];
        _announcedPages = [.. headers.Select(h => h.UsedLength / PageSize)];
        _sentPages = new long[_blocks.Length];
        _pendingPagesPerBlock = new long[_blocks.Length];
        if (_migration.Capabilities.Xbzrle)
        {
            _xbzrle = new XbzrleSender(_writer, _migration.Counters, _migration.Parameters.XbzrleCacheSize, [.. headers.Select(h => h.UsedLength)]);
        }

        for (var i = 0; i < _blocks.Length; i++)
        {
            var block = _blocks[i];
            var bitmap = new ulong[Emulation.Memory.DirtyBitmap.WordsFor(block.DirtyLog.PageCount)];
            var pages = _announcedPages[i];
            bitmap.AsSpan(0, (int)(pages / 64)).Fill(ulong.MaxValue);
            if (pages % 64 != 0)
            {
                bitmap[pages / 64] = (1UL << (int)(pages % 64)) - 1;
            }

            block.DirtyLog.SyncInto(bitmap);
            _bitmaps[i] = bitmap;
            ClampToAnnounced(i);
        }

        // QEMU counts the bitmap sync of setup as the first (ram_init_bitmaps -> migration_bitmap_sync_precopy).
        _migration.InitBlockProgress(headers);
        _migration.Counters.CountSync();
        _pendingPages = CountPending();
        _lastSyncAt = _time.GetTimestamp();
        _windowStart = _lastSyncAt;
        _rateMarkAt = _lastSyncAt;
        await FlushAsync(downtime: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends passes until what is left fits in bandwidth x downtime-limit. With a dirty rate above the bandwidth
    /// and no auto-converge this goes on until cancelled, as QEMU's does.
    /// </summary>
    public async Task IterateAsync(CancellationToken cancellationToken)
    {
        var parameters = _migration.Parameters;
        while (true)
        {
            var passStart = _time.GetTimestamp();
            var bytesBefore = Sent;
            _writer.BeginRamSection(RamSectionId, end: false);
            _ = await SendDirtyAsync(paced: true, downtime: false, cancellationToken).ConfigureAwait(false);
            await SyncMultifdAsync(cancellationToken).ConfigureAwait(false);
            _writer.EndRamSection(RamSectionId);
            await FlushAsync(downtime: false, cancellationToken).ConfigureAwait(false);

            var passSeconds = Math.Max(_time.GetElapsedTime(passStart).TotalSeconds, 1e-6);
            var passBytes = Sent - bytesBefore;
            var dirtied = Sync();
            var pendingBytes = _pendingPages * PageSize;

            // QEMU: threshold = bandwidth x downtime-limit, bandwidth measured over the iteration.
            var bandwidth = passBytes / passSeconds;
            _migration.Counters.SetExpectedDowntime(bandwidth > 0 ? (long)(pendingBytes / bandwidth * 1000) : 0);
            _migration.ReportProgress();
            if (pendingBytes <= bandwidth * parameters.DowntimeLimit / 1000.0)
            {
                return;
            }

            if (_migration.Capabilities.AutoConverge && dirtied * PageSize > passBytes * parameters.ThrottleTriggerThreshold / 100)
            {
                _throttle = _throttle == 0
                    ? parameters.CpuThrottleInitial
                    : Math.Min(_throttle + parameters.CpuThrottleIncrement, parameters.MaxCpuThrottle);
                _source.Workload.ThrottlePercent = _throttle;
                _migration.Counters.SetThrottle(_throttle);
            }
        }
    }

    /// <summary>
    /// With the guest stopped: the last dirty pages, then for a VmConsole peer its state section and EOF, for QEMU the
    /// device state QEMU sent with the VM (unchanged, in its order), EOF and the description.
    /// </summary>
    public async Task CompleteAsync(bool qemuCompatible, byte[] state, CancellationToken cancellationToken)
    {
        Sync();
        _xbzrle?.LastStage = true;
        _writer.BeginRamSection(RamSectionId, end: true);
        await SendDirtyAsync(paced: false, downtime: true, cancellationToken).ConfigureAwait(false);
        await SyncMultifdAsync(cancellationToken).ConfigureAwait(false);
        _writer.EndRamSection(RamSectionId);
        if (qemuCompatible)
        {
            Qemu.DeviceStateWriter.WriteEnd(_writer, _source.DeviceState, StateSectionId, running: _migration.StoppedFrom == RunState.Running);
        }
        else
        {
            _writer.WriteVmConsoleState(StateSectionId, state);
            _writer.WriteEof();
        }

        await FlushAsync(downtime: true, cancellationToken).ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);
        if (_multifd is not null)
        {
            await _multifd.CompleteAsync().ConfigureAwait(false);
            await _multifd.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops the multifd channels (if any) and ends their connections with <paramref name="error"/>, so that a receiver
    /// sees the end; then lets go of the guest memory they read. The main stream is the transport's to end.
    /// </summary>
    public async Task AbortAsync(Exception error)
    {
        if (_multifd is not null)
        {
            await _multifd.AbortAsync(error).ConfigureAwait(false);
            await _multifd.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Sets the guest's throttle back to none (after the migration, whatever its end).</summary>
    public void ClearThrottle()
    {
        if (_throttle != 0)
        {
            _source.Workload.ThrottlePercent = 0;
            _throttle = 0;
            _migration.Counters.SetThrottle(0);
        }
    }

    private async Task<long> SendDirtyAsync(bool paced, bool downtime, CancellationToken cancellationToken)
    {
        long sent = 0;
        for (var i = 0; i < _blocks.Length; i++)
        {
            var bitmap = _bitmaps[i];
            using var memory = _blocks[i].AcquireMemory();
            for (var w = 0; w < bitmap.Length; w++)
            {
                var bits = bitmap[w];
                if (bits == 0)
                {
                    continue;
                }

                bitmap[w] = 0;
                sent += BitOperations.PopCount(bits);

                // After the sync that took these bits: a page written since then is dirty again and goes in the next pass.
                var pages = (int)Math.Min(64, _announcedPages[i] - ((long)w * 64));
                if (!memory.TryGetUntouched((long)w * 64 * PageSize, pages, _untouched))
                {
                    _untouched[0] = 0;
                }

                SendWord(i, memory, w, bits, _untouched[0]);
                if (_multifd is { HasReady: true })
                {
                    await _multifd.DispatchAsync(cancellationToken).ConfigureAwait(false);
                }

                if (Sent - _flushedAt >= FlushEvery)
                {
                    await FlushAsync(downtime, cancellationToken).ConfigureAwait(false);
                    if (paced)
                    {
                        await PaceAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }

        return sent;
    }

    /// <summary>
    /// Sends the pages of one bitmap word: zero pages as one-byte records, the rest whole (with XBZRLE, through its
    /// cache: a delta, nothing, or the page whole). Pages in
    /// <paramref name="untouched"/> were never backed: zero without reading them (reading would fault each one in).
    /// </summary>
    private void SendWord(int block, Emulation.Memory.GuestMemoryAccess memory, int word, ulong bits, ulong untouched)
    {
        while (bits != 0)
        {
            var bit = BitOperations.TrailingZeroCount(bits);
            var page = ((long)word * 64) + bit;
            bits &= bits - 1;
            var offset = page * PageSize;
            var data = memory.Span(offset, PageSize);
            var zero = (untouched & (1UL << bit)) != 0 || !data.ContainsAnyExcept((byte)0);
            if (zero)
            {
                _writer.WriteZeroPage(block, offset, 0);
                _xbzrle?.OnZeroPage(block, offset);
                _migration.Counters.CountPage(zero: true);
            }
            else if (_multifd is not null)
            {
                // A channel reads it from guest memory when it sends the packet.
                _multifd.Queue(block, offset);
                _migration.Counters.CountPage(zero: false);
            }
            else
            {
                ReadOnlySpan<byte> whole = data;
                if (_xbzrle?.TrySend(block, offset, data, out whole) != true)
                {
                    _writer.WritePage(block, offset, whole);
                    _migration.Counters.CountPage(zero: false);
                }
            }

            _pendingPages--;
            _pendingPagesPerBlock[block]--;
            _sentPages[block]++;
        }
    }

    /// <summary>Before a RAM EOS with multifd: the pages queued go out, then a SYNC on every channel (QEMU's multifd_send_sync_main).</summary>
    private async Task SyncMultifdAsync(CancellationToken cancellationToken)
    {
        if (_multifd is not null)
        {
            await _multifd.SyncAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the dirty log into the send bitmaps; returns the pages dirtied since the last sync.</summary>
    private long Sync()
    {
        long dirtied = 0;
        for (var i = 0; i < _blocks.Length; i++)
        {
            dirtied += _blocks[i].DirtyLog.SyncInto(_bitmaps[i]);
            dirtied -= ClampToAnnounced(i);
        }

        var now = _time.GetTimestamp();
        var seconds = Math.Max(_time.GetElapsedTime(_lastSyncAt, now).TotalSeconds, 1e-6);
        _lastSyncAt = now;
        _pendingPages = CountPending();
        _migration.Counters.CountSync();
        _migration.Counters.SetDirtyRate(dirtied / seconds);
        _xbzrle?.OnSync();
        _migration.PublishProgress(_pendingPages * PageSize, _sentPages, _pendingPagesPerBlock);
        return dirtied;
    }

    /// <summary>
    /// Drops dirty bits at or beyond the used_length announced at setup, and returns how many there were. A guest that
    /// grows a block (Vm.GuestResize) marks its new pages dirty before it cancels this migration; a sync in between
    /// must not make the sender name pages the destination was never told of: the cancel is on its way, and it is the
    /// outcome (cancelled, "RAM block '...' resized during precopy.").
    /// </summary>
    private long ClampToAnnounced(int block)
    {
        var bitmap = _bitmaps[block];
        var pages = _announcedPages[block];
        long dropped = 0;
        var word = (int)(pages / 64);
        if (word < bitmap.Length && pages % 64 != 0)
        {
            var keep = (1UL << (int)(pages % 64)) - 1;
            dropped += BitOperations.PopCount(bitmap[word] & ~keep);
            bitmap[word] &= keep;
            word++;
        }

        for (; word < bitmap.Length; word++)
        {
            dropped += BitOperations.PopCount(bitmap[word]);
            bitmap[word] = 0;
        }

        return dropped;
    }

    private long CountPending()
    {
        long pending = 0;
        for (var i = 0; i < _bitmaps.Length; i++)
        {
            long block = 0;
            foreach (var word in _bitmaps[i])
            {
                block += BitOperations.PopCount(word);
            }

            _pendingPagesPerBlock[i] = block;
            pending += block;
        }

        return pending;
    }
}
