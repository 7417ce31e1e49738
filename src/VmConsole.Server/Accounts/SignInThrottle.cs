using Microsoft.Extensions.Options;

namespace VmConsole.Server.Accounts;

/// <summary>
/// Slows password guessing without letting a stranger lock anyone out. Failures are counted per client
/// address and account, and per client address: past <see cref="AuthOptions.FreeFailedSignIns"/> for one
/// account (four times that for any accounts) the client must wait before its next try, 1 s and doubling with
/// each further failure, up to <see cref="AuthOptions.MaxSignInBackoff"/>. A client that waits is told so
/// before its password is even looked at, whether the account exists or not. Another client signing in to the
/// same account is not held back, and a success forgets the client's failures. Failures are forgotten after
/// the longest back-off has passed without a new one.
/// </summary>
public sealed class SignInThrottle(TimeProvider time, IOptions<AuthOptions> options)
{
    /// <summary>At most this many clients and accounts are remembered; the stalest go first.</summary>
    public const int MaxTracked = 10_000;

    private static readonly TimeSpan FirstWait = TimeSpan.FromSeconds(1);

    // Failures by key ("address" or "address\nuser"). Guarded by itself.
    private readonly Dictionary<string, Failures> _failures = new(StringComparer.Ordinal);

    /// <summary>How long the client at <paramref name="address"/> must wait before trying <paramref name="userName"/>; zero when it may try now.</summary>
    public TimeSpan WaitBeforeTry(string address, string userName)
    {
        var now = time.GetUtcNow();
        lock (_failures)
        {
            var wait = Remaining(address, now);
            var pair = Remaining(PairKey(address, userName), now);
            return pair > wait ? pair : wait;
        }
    }

    public void Failed(string address, string userName)
    {
        var now = time.GetUtcNow();
        var free = options.Value.FreeFailedSignIns;
        lock (_failures)
        {
            Count(address, free * 4, now);
            Count(PairKey(address, userName), free, now);
        }
    }

    public void Succeeded(string address, string userName)
    {
        lock (_failures)
        {
            _failures.Remove(address);
            _failures.Remove(PairKey(address, userName));
        }
    }

    /// <summary>Until when some client is held back from signing in as <paramref name="userName"/>; null when none is.</summary>
    public DateTimeOffset? HeldBackUntil(string userName)
    {
        var now = time.GetUtcNow();
        var suffix = "\n" + userName.ToLowerInvariant();
        lock (_failures)
        {
            DateTimeOffset? latest = null;
            foreach (var (key, failures) in _failures)
            {
                if (key.EndsWith(suffix, StringComparison.Ordinal) && failures.NextTry > now && (latest is null || failures.NextTry > latest))
                {
                    latest = failures.NextTry;
                }
            }

            return latest;
        }
    }

    /// <summary>Forgets every client's failures for <paramref name="userName"/> (an admin vouches for the user).</summary>
    public void Forgive(string userName)
    {
        var suffix = "\n" + userName.ToLowerInvariant();
        lock (_failures)
        {
            foreach (var key in _failures.Keys.Where(k => k.EndsWith(suffix, StringComparison.Ordinal)).ToList())
            {
                _failures.Remove(key);
            }
        }
    }

    private static string PairKey(string address, string userName) => $"{address}\n{userName.ToLowerInvariant()}";

    private TimeSpan Remaining(string key, DateTimeOffset now) =>
        _failures.TryGetValue(key, out var failures) && failures.NextTry > now ? failures.NextTry - now : TimeSpan.Zero;

    private void Count(string key, int free, DateTimeOffset now)
    {
        var max = options.Value.MaxSignInBackoff;
        if (!_failures.TryGetValue(key, out var failures) || now - failures.Last > max + max)
        {
            failures = new Failures();
            if (_failures.Count >= MaxTracked)
            {
                Prune(now);
            }

            _failures[key] = failures;
        }

        failures.Count++;
        failures.Last = now;
        var beyond = failures.Count - free;
        failures.NextTry = beyond <= 0 ? now : now + Backoff(beyond, max);
    }

    private static TimeSpan Backoff(int beyond, TimeSpan max)
    {
        // 1 s after the first failure past the free ones, doubling; capped before it could overflow.
        var wait = FirstWait * Math.Pow(2, Math.Min(beyond - 1, 30));
        return wait > max ? max : wait;
    }

    private void Prune(DateTimeOffset now)
    {
        var max = options.Value.MaxSignInBackoff;
        foreach (var key in _failures.Where(f => now - f.Value.Last > max + max).Select(f => f.Key).ToList())
        {
            _failures.Remove(key);
        }

        // Still full (a flood of fresh addresses): drop the stalest half.
        if (_failures.Count >= MaxTracked)
        {
            foreach (var key in _failures.OrderBy(f => f.Value.Last).Take(_failures.Count / 2).Select(f => f.Key).ToList())
            {
                _failures.Remove(key);
            }
        }
    }

    private sealed class Failures
    {
        public int Count;
        public DateTimeOffset Last;
        public DateTimeOffset NextTry;
    }
}
