using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;

namespace VmConsole.TestSupport;

/// <summary>Runs a fake clock under a guest and the engine's migration of it, as fast as both follow it.</summary>
public static class MigrationClock
{
    /// <summary>
    /// Moves <paramref name="clock"/> on 100 ms at a time until <paramref name="done"/>, each step only once the guest
    /// has written what its rate owes so far and the migration (if any yet) has sent its bandwidth window's share and
    /// waits for the next window, or has ended. So the dirty rate and the bandwidth the engine compares are the set ones,
    /// however busy this machine is.
    /// </summary>
    public static Task RunUntilAsync(FakeTimeProvider clock, Vm guest, Func<PrecopyMigration?> migration, Func<bool> done, Func<PrecopyMigration, string>? describe = null)
    {
        long? waitAtLastStep = null;
        bool SenderCaughtUp() => migration() is not { } m || m.Finished.IsCompleted || (m.ClockWait is { } wait && wait != waitAtLastStep);
        return Eventually.AdvanceUntil(
            clock,
            TimeSpan.FromMilliseconds(100),
            caughtUp: () => guest.Workload.HasCaughtUpWith(clock.GetTimestamp()) && SenderCaughtUp(),
            done: () =>
            {
                if (done())
                {
                    return true;
                }

                // The step about to be taken ends this wait; the next step waits for the sender's next one.
                waitAtLastStep = migration()?.ClockWait;
                return false;
            },
            failure: () => $"guest wrote {guest.Workload.PagesWritten} pages; {(migration() is { } m ? $"{describe?.Invoke(m) ?? m.Status.ToString()}, sender wait {m.ClockWait?.ToString() ?? "none"} (last step at {waitAtLastStep})" : "no migration")}");
    }
}
