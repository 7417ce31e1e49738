using VmConsole.Emulation;

namespace VmConsole.Server.Events;

/// <summary>
/// Bounds what clients without a session can add to the audit log. Within each minute, all clients together,
/// the first <c>rowsPerMinute</c> distinct refusals (client address, attempted user, action, code) are written
/// at once; a repeat of one of them is only counted, and written at the end of the minute as one row with its
/// count; anything past the budget is counted into one summary row. So a flood adds at most
/// 2 x <c>rowsPerMinute</c> + 1 rows a minute, however many requests and addresses it uses.
/// </summary>
public sealed class UnauthenticatedAudit(TimeProvider time, int rowsPerMinute)
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    // The current window's state; guarded by _lock.
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Address, string User, string Action, string? Code), Repeats> _seen = [];
    private DateTimeOffset _windowStart = DateTimeOffset.MinValue;
    private int _written;
    private long _overflow;
    private readonly HashSet<string> _overflowAddresses = new(StringComparer.Ordinal);

    /// <summary>Counts <paramref name="line"/>; returns the rows to write now (none, the line itself, or the rows of a window that has ended).</summary>
    public IReadOnlyList<AuditLine> Record(string address, AuditLine line)
    {
        var now = line.At;
        List<AuditLine>? closing = null;
        var writeNow = false;
        lock (_lock)
        {
            if (now - _windowStart >= Window)
            {
                closing = CloseWindow();
                _windowStart = now;
            }

            var key = (address, line.User, line.Action, line.Code);
            if (_seen.TryGetValue(key, out var repeats))
            {
                repeats.Count++;
                repeats.Last = now;
            }
            else if (_written < rowsPerMinute)
            {
                _seen[key] = new Repeats(line, address);
                _written++;
                writeNow = true;
            }
            else
            {
                _overflow++;
                if (_overflowAddresses.Count < 1000)
                {
                    _overflowAddresses.Add(address);
                }
            }
        }

        var rows = closing ?? [];
        if (writeNow)
        {
            rows.Add(line with { Reason = $"{line.Reason} (from {address})" });
        }

        return rows;
    }

    /// <summary>The rows of the window that has ended; called each minute by the recorder, and on shutdown with <paramref name="force"/>.</summary>
    public IReadOnlyList<AuditLine> Tick(bool force = false)
    {
        List<AuditLine>? closing = null;
        lock (_lock)
        {
            if (force || time.GetUtcNow() - _windowStart >= Window)
            {
                closing = CloseWindow();
                _windowStart = DateTimeOffset.MinValue;
            }
        }

        return closing ?? [];
    }

    private List<AuditLine> CloseWindow()
    {
        var lines = new List<AuditLine>();
        foreach (var repeats in _seen.Values.Where(r => r.Count > 0))
        {
            lines.Add(repeats.First with
            {
                At = repeats.Last,
                Count = repeats.Count,
                Reason = $"{repeats.First.Reason} (from {repeats.Address}; repeated {repeats.Count:N0} more times until {repeats.Last:HH:mm:ss} UTC)",
            });
        }

        if (_overflow > 0)
        {
            var addresses = string.Join(", ", _overflowAddresses.Take(5)) + (_overflowAddresses.Count > 5 ? $" and {_overflowAddresses.Count - 5} more" : "");
            lines.Add(new AuditLine(
                time.GetUtcNow(), ActionLog.Anonymous, "Made requests without a session", "/", null, false, ErrorCodes.UnauthenticatedFlood,
                $"{_overflow:N0} more refused requests without a session in the minute from {_windowStart:HH:mm:ss} UTC, past the {rowsPerMinute} rows a minute kept one by one (from {addresses})",
                (int)Math.Min(_overflow, int.MaxValue)));
        }

        _seen.Clear();
        _overflowAddresses.Clear();
        _written = 0;
        _overflow = 0;
        return lines;
    }

    private sealed class Repeats(AuditLine first, string address)
    {
        public AuditLine First { get; } = first;

        public string Address { get; } = address;

        public int Count;

        public DateTimeOffset Last = first.At;
    }
}
