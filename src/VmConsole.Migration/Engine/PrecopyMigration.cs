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
    private readonly MigrationCounters _counters;
    private readonly ProgressThrottle _progressThrottle;

    // Written with Interlocked under _gate (a CAS, so that the event log keeps the order the swaps won), read by anyone
    // without a lock.
    private int _status = (int)MigrationStatus.Setup;

    // Written under _gate.
    private readonly Lock _gate = new();
    private ImmutableList<MigrationEvent> _events = [];
    private string? _errorDesc;
    private bool? _verified;
    private RunState? _stoppedFrom;

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
        _time = time;
        _counters = new MigrationCounters(totalBytes, time) { XbzrleCacheSize = capabilities.Xbzrle ? parameters.XbzrleCacheSize : null };
        _progressThrottle = new ProgressThrottle(time, () => Status.IsFinal(), () => Progress?.Invoke(this));
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

    /// <summary>
    /// The console's host that receives the VM: one of the engine's, or a QEMU host listening on <see cref="Uri"/>; null
    /// for a peer outside the console (a file, a QEMU it does not run).
    /// </summary>
    public string? DestinationHost { get; }

    /// <summary>The transport (<c>unix:</c>, <c>tcp:</c>, <c>file:</c>), or null for an in-process pipe to the destination host.</summary>
    public string? Uri { get; }

    public MigrationParameters Parameters { get; }

    public MigrationCapabilities Capabilities { get; }

    public long Total { get; }

    public MigrationStatus Status => (MigrationStatus)Volatile.Read(ref _status);

    public ImmutableList<MigrationEvent> Events => _events;

    /// <summary>Every CPU throttle auto-converge applied, in order.</summary>
    public ImmutableList<int> ThrottleSteps => _counters.ThrottleSteps;

    public string? ErrorDesc => _errorDesc;

    /// <summary>Whether the destination's migratable memory matched the source's at switchover; null when it could not be compared.</summary>
    public bool? Verified => _verified;

    /// <summary>
    /// The run state the source had when the migration stopped it to switch over (it went to <c>finish-migrate</c>):
    /// running or paused; null until then.
    /// </summary>
    public RunState? StoppedFrom
    {
        get
        {
            lock (_gate)
            {
                return _stoppedFrom;
            }
        }
    }

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
    /// <summary>The engine migrates in precopy only (postcopy-ram is refused at the start): always refused.</summary>
    public Task StartPostcopyAsync(CancellationToken cancellationToken = default) => throw MigrationRefusals.PostcopyNotEnabled(Id, VmName);

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
    public MigrationStats GetStats() => _counters.GetStats(Status, _errorDesc);

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
                _counters.MarkEnded();
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

    internal void SetStoppedFrom(RunState state)
    {
        lock (_gate)
        {
            _stoppedFrom = state;
        }
    }

    internal void Finish() => _finished.TrySetResult();

    // The sender's waits for its next bandwidth window (Interlocked): how many began, and whether one is under way.
    private long _clockWaits;
    private int _waitingForClock;

    /// <summary>
    /// The number of the bandwidth-window wait the sender is in now, or null when it is not waiting for the clock: lets a
    /// test on a fake clock move time on only once the sender has sent the window's share.
    /// </summary>
    internal long? ClockWait => Volatile.Read(ref _waitingForClock) != 0 ? Interlocked.Read(ref _clockWaits) : null;

    internal void EnterClockWait()
    {
        Interlocked.Increment(ref _clockWaits);
        Volatile.Write(ref _waitingForClock, 1);
    }

    internal void LeaveClockWait() => Volatile.Write(ref _waitingForClock, 0);

    /// <summary>The numbers, for the worker and its sender to count in.</summary>
    internal MigrationCounters Counters => _counters;

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
            _counters.SetRemaining(remaining);
        }
    }

    /// <summary>Raises <see cref="Progress"/> at most ten times a second, latest wins, and once only after the migration ended (see <see cref="ProgressThrottle"/>).</summary>
    internal void ReportProgress() => _progressThrottle.Report();
}
