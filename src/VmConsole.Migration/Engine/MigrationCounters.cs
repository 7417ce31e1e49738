using System.Collections.Immutable;
using VmConsole.Emulation;

namespace VmConsole.Migration.Engine;

/// <summary>
/// A precopy migration's numbers as query-migrate shows them: bytes and pages sent, bytes remaining, dirty syncs,
/// throughput, dirty rate, CPU throttle, and the setup time, downtime and total time. Written by the migration's
/// worker and its sender, read by anyone at any time.
/// </summary>
internal sealed partial class MigrationCounters
{
    private readonly TimeProvider _time;
    private readonly long _startedAt;

    // Written with Interlocked (by the worker and its sender; _endedAt by the status change to a final state), read by
    // anyone without a lock.
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
    private double _dirtyPagesRate;
    private double _mbps;
    private double _pagesPerSecond;
    private int _throttle;

    // Written under _throttleGate by the sender, read by anyone without a lock.
    private readonly Lock _throttleGate = new();
    private ImmutableList<int> _throttleSteps = [];

    public MigrationCounters(long totalBytes, TimeProvider time)
    {
        Total = totalBytes;
        _remaining = totalBytes;
        _time = time;
        _startedAt = time.GetTimestamp();
    }

    public long Total { get; }

    /// <summary>Every CPU throttle auto-converge applied, in order.</summary>
    public ImmutableList<int> ThrottleSteps => _throttleSteps;

    /// <summary>query-migrate: the numbers now, at <paramref name="status"/> (read before the numbers).</summary>
    public MigrationStats GetStats(MigrationStatus status, string? errorDesc)
    {
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
            ErrorDesc = errorDesc,
            XbzrleCache = GetXbzrleStats(),
        };
    }

    /// <summary>The migration reached a final state: the total time stops here.</summary>
    public void MarkEnded() => Interlocked.Exchange(ref _endedAt, _time.GetTimestamp());

    public void MarkSetupDone() => Interlocked.Exchange(ref _setupTime, (long)_time.GetElapsedTime(_startedAt).TotalMilliseconds);

    public void SetTransferred(long bytes, bool downtime)
    {
        var before = Interlocked.Exchange(ref _transferred, bytes);
        Interlocked.Add(ref downtime ? ref _downtimeBytes : ref _precopyBytes, bytes - before);
    }

    public void CountPage(bool zero) => Interlocked.Increment(ref zero ? ref _zeroPages : ref _normalPages);

    public void SetRemaining(long bytes) => Interlocked.Exchange(ref _remaining, bytes);

    public void SetThroughput(double mbps, double pagesPerSecond)
    {
        Interlocked.Exchange(ref _mbps, mbps);
        Interlocked.Exchange(ref _pagesPerSecond, pagesPerSecond);
    }

    public void SetDirtyRate(double dirtyPagesRate) => Interlocked.Exchange(ref _dirtyPagesRate, dirtyPagesRate);

    public void CountSync() => Interlocked.Increment(ref _dirtySyncCount);

    /// <summary>QEMU's <c>dirty_sync_count</c>: the bitmap syncs so far (the age of XBZRLE cache items).</summary>
    public long DirtySyncCount => Interlocked.Read(ref _dirtySyncCount);

    public void SetExpectedDowntime(long milliseconds) => Interlocked.Exchange(ref _expectedDowntime, milliseconds);

    public void SetDowntime(long milliseconds) => Interlocked.Exchange(ref _downtime, milliseconds);

    public void SetThrottle(int percent)
    {
        Interlocked.Exchange(ref _throttle, percent);
        if (percent > 0)
        {
            lock (_throttleGate)
            {
                _throttleSteps = _throttleSteps.Add(percent);
            }
        }
    }

    private static long? Optional(ref long field) => Interlocked.Read(ref field) is var v && v >= 0 ? v : null;
}
