namespace VmConsole.Migration.Engine;

/// <summary>The sender's flushes, its max-bandwidth pacing in 100 ms windows, and its throughput figures.</summary>
internal sealed partial class PrecopySender
{
    private async Task FlushAsync(bool downtime, CancellationToken cancellationToken)
    {
        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        var sent = Sent;
        _windowBytes += sent - _flushedAt;
        _flushedAt = sent;
        _migration.Counters.SetTransferred(_flushedAt, downtime);
        _migration.PublishProgress(_pendingPages * PageSize, _sentPages, _pendingPagesPerBlock);
        _migration.ReportProgress();
    }

    /// <summary>
    /// max-bandwidth in 100 ms windows: a window that has had its share waits for the next, and what it sent
    /// beyond its share counts against the next one, so the long-run rate is the set one.
    /// </summary>
    private async Task PaceAsync(CancellationToken cancellationToken)
    {
        var bandwidth = _migration.Parameters.MaxBandwidth;
        if (bandwidth > 0)
        {
            var budget = bandwidth / 10;
            while (_windowBytes >= budget)
            {
                var elapsed = _time.GetElapsedTime(_windowStart);
                if (elapsed < Window)
                {
                    // The timer is set before the wait is announced: a fake clock that moves on as soon as it sees the
                    // wait must find the timer there, or it would move past a timer set after it.
                    var nextWindow = Task.Delay(Window - elapsed, _time, cancellationToken);
                    _migration.EnterClockWait();
                    try
                    {
                        await nextWindow.ConfigureAwait(false);
                    }
                    finally
                    {
                        _migration.LeaveClockWait();
                    }
                }

                _windowStart = _time.GetTimestamp();
                _windowBytes -= budget;
            }
        }

        if (_time.GetElapsedTime(_windowStart) >= Window)
        {
            _windowStart = _time.GetTimestamp();
            _windowBytes = 0;
        }

        UpdateThroughput();
    }

    /// <summary>mbps and pages per second over the last half second or more.</summary>
    private void UpdateThroughput()
    {
        var now = _time.GetTimestamp();
        var seconds = _time.GetElapsedTime(_rateMarkAt, now).TotalSeconds;
        if (seconds >= 0.5)
        {
            var bytes = Sent - _rateMarkBytes;
            _migration.Counters.SetThroughput(bytes * 8 / seconds / 1e6, bytes / (double)PageSize / seconds);
            _rateMarkAt = now;
            _rateMarkBytes = Sent;
        }
    }
}
