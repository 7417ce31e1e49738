using System.Collections.Immutable;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Model;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>
/// One migration of one VM: its state machine (compare-and-swap on the old state, an event per change),
/// its parameters, and its live statistics. It holds the source VM's lease (and the destination's, for a
/// destination host of this server) from acceptance until its worker has quit.
/// </summary>
public sealed class PrecopyMigration : IMigration, IMigrationLeaseHolder
{
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _cancel = new();
    private readonly TaskCompletionSource _continue = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _startedAt;

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);

    // Written with Interlocked (status: CAS under _gate, so that the event log keeps the order the swaps won; the rest
    // by the worker), read by anyone without a lock.
    private int _status = (int)MigrationStatus.Setup;
    private long _transferred;
    private long _zeroPages;
    private long _normalPages;
    private long _remaining;
    private long _dirtySyncCount;
    private long _precopyBytes;
    private long _downtimeBytes;
    private long _setupTime = -1;
    private long _downtime = -1;
    private long _expectedDowntime = -1;
    private long _endedAt;
    private long _lastProgressAt;
    private int _trailingProgress;
    private int _finalReported;
    private double _dirtyPagesRate;
    private double _mbps;
    private double _pagesPerSecond;
    private int _throttle;

    // Written under _gate.
    private readonly Lock _gate = new();
    private ImmutableList<MigrationEvent> _events = [];
    private ImmutableList<int> _throttleSteps = [];
    private string? _errorDesc;
    private bool? _verified;

    // Per block of the stream's setup, in its order: set once by the worker (InitBlockProgress), then the counts are
    // copied in by the worker (PublishProgress, at each flush and dirty sync) and read by GetBlockProgress, all under
    // _progressGate, so that a snapshot is one moment's and its remaining bytes add up to ram.remaining of that moment.
    private readonly Lock _progressGate = new();
    private RamBlockHeader[] _progressBlocks = [];
    private long[] _progressSentPages = [];
    private long[] _progressPendingPages = [];

    // Written under _gate (by the worker, in TryCommit), read under it by TrySetStatus and with Volatile by RequestCancel.
    private bool _committed;

    internal PrecopyMigration(string id, Vm source, string? destinationHost, string? uri, MigrationParameters parameters, MigrationCapabilities capabilities, long totalBytes, TimeProvider time)
    {
        Id = id;
        Source = source;
        VmName = source.Name;
        SourceHost = source.Host.Name;
        DestinationHost = destinationHost;
        Uri = uri;
        Parameters = parameters;
        Capabilities = capabilities;
        Total = totalBytes;
        _remaining = totalBytes;
        _time = time;
        _startedAt = time.GetTimestamp();
        _events = [new MigrationEvent(MigrationStatus.Setup, time.GetUtcNow())];
    }

    /// <summary>A state change that won its compare-and-swap. Raised on the thread that made it.</summary>
    public event Action<IMigration, MigrationStatus>? StatusChanged;

    /// <summary>New statistics, at most ten times a second.</summary>
    public event Action<IMigration>? Progress;

    public string Id { get; }

    string IMigrationLeaseHolder.MigrationId => Id;

    public string VmName { get; }

    public MigrationDirection Direction => MigrationDirection.Outgoing;

    /// <summary>The source VM (after completion it has left the inventory and its memory is freed).</summary>
    internal Vm Source { get; }

    public string SourceHost { get; }

    /// <summary>A host of this server that receives the VM, or null for an external peer (a file, QEMU).</summary>
    public string? DestinationHost { get; }

    /// <summary>The transport (<c>unix:</c>, <c>tcp:</c>, <c>file:</c>), or null for an in-process pipe to the destination host.</summary>
    public string? Uri { get; }

    public MigrationParameters Parameters { get; }

    public MigrationCapabilities Capabilities { get; }

    public long Total { get; }

    public MigrationStatus Status => (MigrationStatus)Volatile.Read(ref _status);

    public ImmutableList<MigrationEvent> Events => _events;

    /// <summary>Every CPU throttle auto-converge applied, in order.</summary>
    public ImmutableList<int> ThrottleSteps => _throttleSteps;

    public string? ErrorDesc => _errorDesc;

    /// <summary>Whether the destination's migratable memory matched the source's at switchover; null when it could not be compared.</summary>
    public bool? Verified => _verified;

    /// <summary>Completes when the worker has quit and the migration is completed, cancelled or failed.</summary>
    public Task Finished => _finished.Task;

    internal CancellationToken CancellationToken => _cancel.Token;

    internal Task ContinueRequested => _continue.Task;

    /// <summary>
    /// migrate_cancel: asynchronous and idempotent. From setup, active, pre-switchover or device the migration goes
    /// to <c>cancelling</c>, and to <c>cancelled</c> when its worker has quit; on a finished migration it does nothing.
    /// </summary>
    public void Cancel() => RequestCancel(null);

    public void RequestCancel(string? error)
    {
        while (true)
        {
            var current = Status;
            if (!current.IsCancellable())
            {
                return;
            }

            if (TrySetStatus(current, MigrationStatus.Cancelling))
            {
                if (error is not null)
                {
                    SetError(error);
                }

                _cancel.Cancel();
                return;
            }

            if (Volatile.Read(ref _committed))
            {
                // Past the point of no return (see TryCommit): too late, as on a completed migration.
                return;
            }
        }
    }

    /// <summary>migrate-continue: lets a migration waiting in <c>pre-switchover</c> switch over.</summary>
    public void Continue()
    {
        if (Status != MigrationStatus.PreSwitchover)
        {
            throw MigrationRefusals.NotPreSwitchover(Id, Status.ToQemuName());
        }

        _continue.TrySetResult();
    }

    /// <summary>
    /// migrate-continue, completing once the worker has acted on it: the migration has left <c>pre-switchover</c> (for
    /// <c>device</c>, or for <c>cancelling</c> or <c>failing</c> when those won), and that state change has been raised
    /// to every subscriber that was there before the call.
    /// </summary>
    public async Task ContinueAsync(CancellationToken cancellationToken = default)
    {
        // Subscribed before asking: the worker may move on before Continue returns. A change that won before the
        // subscription makes Continue throw, so the wait below always ends with a change.
        var left = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(IMigration migration, MigrationStatus status) => left.TrySetResult();
        StatusChanged += OnChanged;
        try
        {
            Continue();
            await left.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            StatusChanged -= OnChanged;
        }
    }

    /// <summary>query-migrate: the numbers now.</summary>
    public MigrationStats GetStats()
    {
        var status = Status;
        var ended = Interlocked.Read(ref _endedAt);
        var now = ended != 0 ? ended : _time.GetTimestamp();
        return new MigrationStats
        {
            Status = status,
            TotalTime = (long)_time.GetElapsedTime(_startedAt, now).TotalMilliseconds,
            SetupTime = Optional(ref _setupTime),
            ExpectedDowntime = Optional(ref _expectedDowntime),
            Downtime = Optional(ref _downtime),
            Transferred = Interlocked.Read(ref _transferred),
            Remaining = Interlocked.Read(ref _remaining),
            Total = Total,
            Duplicate = Interlocked.Read(ref _zeroPages),
            Normal = Interlocked.Read(ref _normalPages),
            NormalBytes = Interlocked.Read(ref _normalPages) * Wire.QemuFormat.TargetPageSize,
            DirtyPagesRate = Volatile.Read(ref _dirtyPagesRate),
            Mbps = Volatile.Read(ref _mbps),
            DirtySyncCount = Interlocked.Read(ref _dirtySyncCount),
            PagesPerSecond = Volatile.Read(ref _pagesPerSecond),
            PrecopyBytes = Interlocked.Read(ref _precopyBytes),
            DowntimeBytes = Interlocked.Read(ref _downtimeBytes),
            CpuThrottlePercentage = Volatile.Read(ref _throttle),
            ErrorDesc = _errorDesc,
        };
    }

    /// <summary>
    /// Per-block progress now, one entry per block the stream announced at setup, in stream order (empty before setup).
    /// Thread-safe; the entries are one moment's, and their <see cref="BlockProgress.RemainingBytes"/> add up to
    /// <see cref="MigrationStats.Remaining"/> as published at that moment.
    /// </summary>
    public IReadOnlyList<BlockProgress> GetBlockProgress()
    {
        lock (_progressGate)
        {
            var result = new BlockProgress[_progressBlocks.Length];
            for (var i = 0; i < result.Length; i++)
            {
                var (idStr, usedLength) = _progressBlocks[i];
                result[i] = new BlockProgress(idStr, usedLength, _progressSentPages[i] * QemuFormat.TargetPageSize, _progressPendingPages[i] * Wire.QemuFormat.TargetPageSize);
            }

            return result;
        }
    }

    public override string ToString() => $"migration {Id} of {VmName} ({Status.ToQemuName()})";

    // ---- for the worker ----------------------------------------------------------------------------

    /// <summary>migrate_set_state: moves from <paramref name="from"/> to <paramref name="to"/> only if the state is still <paramref name="from"/>.</summary>
    internal bool TrySetStatus(MigrationStatus from, MigrationStatus to)
    {
        // The swap and its entry in the log are one step: with the append after the lock-free swap, a worker's
        // setup -> active and a cancel's active -> cancelling could be logged as [setup, cancelling, active].
        lock (_gate)
        {
            if ((to == MigrationStatus.Cancelling && _committed) || Interlocked.CompareExchange(ref _status, (int)to, (int)from) != (int)from)
            {
                return false;
            }

            _events = _events.Add(new MigrationEvent(to, _time.GetUtcNow()));
            if (to.IsFinal())
            {
                Interlocked.Exchange(ref _endedAt, _time.GetTimestamp());
            }
        }

        StatusChanged?.Invoke(this, to);
        return true;
    }

    /// <summary>
    /// The worker passes the point of no return of switchover: from now on a cancel does nothing, as on a completed
    /// migration. False when the migration already left <c>device</c> (a cancel won).
    /// </summary>
    internal bool TryCommit()
    {
        lock (_gate)
        {
            if (Status != MigrationStatus.Device)
            {
                return false;
            }

            Volatile.Write(ref _committed, true);
            return true;
        }
    }

    internal void SetError(string error)
    {
        lock (_gate)
        {
            _errorDesc ??= error;
        }
    }

    internal void SetVerified(bool verified)
    {
        lock (_gate)
        {
            _verified = verified;
        }
    }

    internal void Finish() => _finished.TrySetResult();

    internal void MarkSetupDone() => Interlocked.Exchange(ref _setupTime, (long)_time.GetElapsedTime(_startedAt).TotalMilliseconds);

    internal void SetTransferred(long bytes, bool downtime)
    {
        var before = Interlocked.Exchange(ref _transferred, bytes);
        Interlocked.Add(ref downtime ? ref _downtimeBytes : ref _precopyBytes, bytes - before);
    }

    internal void CountPage(bool zero) => Interlocked.Increment(ref zero ? ref _zeroPages : ref _normalPages);

    internal void SetRemaining(long bytes) => Interlocked.Exchange(ref _remaining, bytes);

    /// <summary>The blocks the setup announced; their counts start at zero.</summary>
    internal void InitBlockProgress(IReadOnlyList<RamBlockHeader> blocks)
    {
        lock (_progressGate)
        {
            _progressBlocks = [.. blocks];
            _progressSentPages = new long[blocks.Count];
            _progressPendingPages = new long[blocks.Count];
        }
    }

    /// <summary>ram.remaining and the per-block counts of the same moment (the sender's own arrays, copied: no allocation).</summary>
    internal void PublishProgress(long remaining, ReadOnlySpan<long> sentPages, ReadOnlySpan<long> pendingPages)
    {
        lock (_progressGate)
        {
            sentPages.CopyTo(_progressSentPages);
            pendingPages.CopyTo(_progressPendingPages);
            Interlocked.Exchange(ref _remaining, remaining);
        }
    }

    internal void SetThroughput(double mbps, double pagesPerSecond)
    {
        Interlocked.Exchange(ref _mbps, mbps);
        Interlocked.Exchange(ref _pagesPerSecond, pagesPerSecond);
    }

    internal void SetDirtyRate(double dirtyPagesRate) => Interlocked.Exchange(ref _dirtyPagesRate, dirtyPagesRate);

    internal void CountSync() => Interlocked.Increment(ref _dirtySyncCount);

    internal void SetExpectedDowntime(long milliseconds) => Interlocked.Exchange(ref _expectedDowntime, milliseconds);

    internal void SetDowntime(long milliseconds) => Interlocked.Exchange(ref _downtime, milliseconds);

    internal void SetThrottle(int percent)
    {
        Interlocked.Exchange(ref _throttle, percent);
        if (percent > 0)
        {
            lock (_gate)
            {
                _throttleSteps = _throttleSteps.Add(percent);
            }
        }
    }

    /// <summary>
    /// Raises <see cref="Progress"/> at most ten times a second, latest wins: a report that comes too soon makes sure
    /// one more is raised when the 100 ms are up, with the numbers of that moment. Once a report with a final status
    /// has been raised, the numbers cannot change any more and later reports (a sender thread finishing after the
    /// worker's last report, a trailing timer) raise nothing.
    /// </summary>
    internal void ReportProgress()
    {
        if (Volatile.Read(ref _finalReported) != 0)
        {
            return;
        }

        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastProgressAt);
        var since = last == 0 ? ProgressInterval : _time.GetElapsedTime(last, now);
        if (since >= ProgressInterval)
        {
            if (Interlocked.CompareExchange(ref _lastProgressAt, now, last) == last
                && (!Status.IsFinal() || Interlocked.Exchange(ref _finalReported, 1) == 0))
            {
                Progress?.Invoke(this);
            }

            return;
        }

        if (Interlocked.Exchange(ref _trailingProgress, 1) == 0)
        {
            _ = ReportLaterAsync(ProgressInterval - since);
        }
    }

    private async Task ReportLaterAsync(TimeSpan delay)
    {
        await Task.Delay(delay, _time).ConfigureAwait(false);
        Volatile.Write(ref _trailingProgress, 0);
        ReportProgress();
    }

    private static long? Optional(ref long field) => Interlocked.Read(ref field) is var v && v >= 0 ? v : null;
}
