using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace VmConsole.TestSupport;

/// <summary>
/// Waits for a state, not for time: the condition is checked at once and then every few milliseconds until it holds,
/// and the wait fails with a <see cref="TimeoutException"/> only after a limit generous enough for a slow, busy machine.
/// This is the tests' one polling loop; a test that can await an event (a task, a TaskCompletionSource) does that instead.
/// </summary>
public static class Eventually
{
    /// <summary>The limit a test gives when it has no reason to give another.</summary>
    public static readonly TimeSpan DefaultLimit = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>Completes once <paramref name="condition"/> holds; fails after <paramref name="limit"/> with <paramref name="failure"/>'s text.</summary>
    public static Task Until(Func<bool> condition, TimeSpan? limit = null, Func<string>? failure = null) =>
        UntilAsync(() => Task.FromResult(condition()), limit, failure);

    /// <summary>As <see cref="Until"/>, for a condition that has to ask asynchronously (QMP, HTTP).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan? limit = null, Func<string>? failure = null)
    {
        var within = limit ?? DefaultLimit;
        var started = Stopwatch.GetTimestamp();
        while (!await condition().ConfigureAwait(false))
        {
            if (Stopwatch.GetElapsedTime(started) > within)
            {
                throw new TimeoutException($"Not reached within {within.TotalSeconds:0.#} s: {failure?.Invoke() ?? "the condition"}.");
            }

            await Task.Delay(PollInterval).ConfigureAwait(false);
        }
    }

    /// <summary>As <see cref="Until"/>, blocking, for tests that are not asynchronous.</summary>
    public static void Wait(Func<bool> condition, TimeSpan? limit = null, Func<string>? failure = null) =>
        Until(condition, limit, failure).ConfigureAwait(false).GetAwaiter().GetResult();

    /// <summary>
    /// Moves <paramref name="clock"/> on by <paramref name="step"/> at a time, each step once the code under test has
    /// caught up with the clock (<paramref name="caughtUp"/> holds, each time within <paramref name="limit"/>), until,
    /// caught up, <paramref name="done"/> holds: fake time passes only as fast as the code follows it, however slow the machine.
    /// </summary>
    public static async Task AdvanceUntil(FakeTimeProvider clock, TimeSpan step, Func<bool> caughtUp, Func<bool> done, TimeSpan? limit = null, Func<string>? failure = null)
    {
        while (true)
        {
            await Until(caughtUp, limit, failure).ConfigureAwait(false);
            if (done())
            {
                return;
            }

            clock.Advance(step);
        }
    }
}
