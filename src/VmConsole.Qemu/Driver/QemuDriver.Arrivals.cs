using System.Collections.Concurrent;
using VmConsole.Emulation;

namespace VmConsole.Qemu.Driver;

/// <summary>
/// Memory promised to QEMUs that are still arriving on a host: the destination of a running migration is a process
/// with its guest's whole RAM before it is a VM of that host, so it counts against the host's capacity from the
/// moment it is asked for, and two migrations to one host cannot both take its last gigabytes.
/// </summary>
public sealed partial class QemuDriver
{
    private readonly Lock _capacityGate = new();
    private readonly ConcurrentDictionary<ArrivalReservation, byte> _arriving = new();

    /// <summary>Reserves <paramref name="bytes"/> on <paramref name="host"/> for VM <paramref name="vmName"/> until the reservation is disposed.</summary>
    /// <exception cref="DomainException">409 <c>host-capacity</c> when the host has less free.</exception>
    internal IDisposable ReserveArriving(QemuHost host, string vmName, long bytes)
    {
        lock (_capacityGate)
        {
            if (host.ReservedBytes + bytes > host.CapacityBytes)
            {
                throw DomainException.Conflict(
                    ErrorCodes.HostCapacity,
                    $"Host '{host.Name}' has {Sizes.Format(host.CapacityBytes - host.ReservedBytes)} free; VM '{vmName}' needs {Sizes.Format(bytes)}.");
            }

            return Arriving(host, bytes);
        }
    }

    /// <summary>A reservation for a destination that already runs (a migration followed again after a restart): not checked.</summary>
    private ArrivalReservation Arriving(QemuHost host, long bytes)
    {
        var reservation = new ArrivalReservation(this, host.Name, bytes);
        _arriving.TryAdd(reservation, 0);
        return reservation;
    }

    private long ArrivingOn(string host) => _arriving.Keys.Where(a => a.Host == host).Sum(a => a.Bytes);

    private sealed class ArrivalReservation(QemuDriver driver, string host, long bytes) : IDisposable
    {
        public string Host => host;

        public long Bytes => bytes;

        public void Dispose() => driver._arriving.TryRemove(this, out _);
    }
}
