using System.Collections.Concurrent;
using VmConsole.Emulation;

namespace VmConsole.Qemu.Driver;

/// <summary>
/// VMs leaving a host: for another driver, from the moment the source QEMU is asked to migrate until it has quit and its
/// folder is gone (or it runs on here, the migration having failed); for another QEMU host, from the moment the VM moves
/// until the folder it left is gone (or the migration failed). A QEMU started for the same name meanwhile
/// would share that folder with the departing process (its pid file, its sockets, the folder removed under it), so
/// every start under a name waits for the name's departure first.
/// </summary>
public sealed partial class QemuDriver
{
    /// <summary>How long a start under a departing VM's name waits for the old QEMU to quit and its folder to go.</summary>
    internal static readonly TimeSpan DepartureTimeout = TimeSpan.FromSeconds(45);

    /// <summary>The clock <see cref="DepartureTimeout"/> is measured on (the system's; a test's own).</summary>
    internal TimeProvider DepartureTime { get; init; } = TimeProvider.System;

    // Written by BeginDeparture and Departure.Dispose; read by AwaitDepartedAsync. One departure per name at a time
    // (a VM's migration holds its source until it ends).
    private readonly ConcurrentDictionary<string, Departure> _departures = new(StringComparer.Ordinal);

    /// <summary>Marks VM <paramref name="name"/> as departing from <paramref name="host"/> until the departure is disposed.</summary>
    internal IDisposable BeginDeparture(string name, QemuHost host)
    {
        var departure = new Departure(this, name, host);
        _departures[name] = departure;
        return departure;
    }

    /// <summary>
    /// Returns once no VM named <paramref name="name"/> is departing: its old QEMU has quit and its folder is gone, or it
    /// stayed here. Returns at once when none is.
    /// </summary>
    /// <exception cref="DomainException">
    /// 409 <c>vm-moving</c> when the departure has not ended within <see cref="DepartureTimeout"/>.
    /// </exception>
    internal async Task AwaitDepartedAsync(string name, CancellationToken cancellationToken)
    {
        while (_departures.TryGetValue(name, out var departure))
        {
            try
            {
                await departure.Ended.WaitAsync(DepartureTimeout, DepartureTime, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw DomainException.Conflict(
                    ErrorCodes.VmMoving,
                    $"VM '{name}' is still leaving QEMU host '{departure.Host.Name}': its old QEMU has not quit or its folder {departure.Host.VmDirectory(name)} is still there after {DepartureTimeout.TotalSeconds:0} s; try again.");
            }
        }
    }

    /// <summary>Ends the departure of <paramref name="name"/> from <paramref name="host"/>, if one is under way.</summary>
    private void EndDeparture(string name, QemuHost host)
    {
        if (_departures.TryGetValue(name, out var departure) && departure.Host == host)
        {
            departure.Dispose();
        }
    }

    private sealed class Departure(QemuDriver driver, string name, QemuHost host) : IDisposable
    {
        private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public QemuHost Host => host;

        public Task Ended => _ended.Task;

        public void Dispose()
        {
            driver._departures.TryRemove(new KeyValuePair<string, Departure>(name, this));
            _ended.TrySetResult();
        }
    }
}
