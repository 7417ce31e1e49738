namespace VmConsole.Migration.Engine;

/// <summary>
/// Raises progress at most ten times a second, latest wins: a report that comes too soon makes sure one more is raised
/// when the 100 ms are up, with the numbers of that moment. Once a report has been raised while
/// <paramref name="ended"/> held, the numbers cannot change any more and later reports (a sender thread finishing after
/// the worker's last report, a trailing timer) raise nothing.
/// </summary>
/// <param name="time">The clock the interval is measured on and the trailing report waits on.</param>
/// <param name="ended">Whether the migration has reached a final state (asked when a report is raised).</param>
/// <param name="raise">Raises the progress event.</param>
internal sealed class ProgressThrottle(TimeProvider time, Func<bool> ended, Action raise)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);

    // Written with Interlocked by whoever reports (the worker, its sender, the trailing timer), read without a lock.
    private long _lastProgressAt;
    private int _trailingProgress;
    private int _finalReported;
    private ITimer? _trailingTimer;

    public void Report()
    {
        if (Volatile.Read(ref _finalReported) != 0)
        {
            return;
        }

        var now = time.GetTimestamp();
        var last = Interlocked.Read(ref _lastProgressAt);
        var since = last == 0 ? ProgressInterval : time.GetElapsedTime(last, now);
        if (since >= ProgressInterval)
        {
            if (Interlocked.CompareExchange(ref _lastProgressAt, now, last) == last
                && (!ended() || Interlocked.Exchange(ref _finalReported, 1) == 0))
            {
                raise();
            }

            return;
        }

        if (Interlocked.Exchange(ref _trailingProgress, 1) == 0)
        {
            // A timer of the clock itself, so that the trailing report comes exactly when the interval is up (on a fake
            // clock: inside the Advance that reaches it, not on a pool thread some time after).
            var timer = time.CreateTimer(_ => ReportLater(), null, ProgressInterval - since, Timeout.InfiniteTimeSpan);
            Interlocked.Exchange(ref _trailingTimer, timer)?.Dispose();
        }
    }

    private void ReportLater()
    {
        Interlocked.Exchange(ref _trailingTimer, null)?.Dispose();
        Volatile.Write(ref _trailingProgress, 0);
        Report();
    }
}
