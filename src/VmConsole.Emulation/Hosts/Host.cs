using VmConsole.Emulation.Drivers;

namespace VmConsole.Emulation.Hosts;

/// <summary>A machine that runs VMs, with a memory capacity that every RAM block reserves from.</summary>
public sealed class Host : IVmHost
{
    // Written with Interlocked by Reserve/Unreserve from any thread.
    private long _reservedBytes;

    internal Host(string name, long capacityBytes)
    {
        Names.ValidateName(name, "host");
        if (capacityBytes <= 0)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidCapacity, $"Host memory capacity must be greater than zero; got {capacityBytes}.");
        }

        Name = name;
        CapacityBytes = capacityBytes;
    }

    public string Name { get; }

    public long CapacityBytes { get; }

    /// <summary>Bytes reserved by the RAM blocks of the VMs on this host (their max_length).</summary>
    public long ReservedBytes => Volatile.Read(ref _reservedBytes);

    public long FreeBytes => CapacityBytes - ReservedBytes;

    /// <summary>The in-process emulator's hosts run VMs whenever the console runs.</summary>
    public DriverKind Driver => DriverKind.Emulator;

    public string? UnavailableReason => null;

    /// <summary>Reserves memory for <paramref name="purpose"/>, or refuses with <c>host-capacity</c> when it does not fit.</summary>
    internal void Reserve(long bytes, string purpose)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        long current;
        do
        {
            current = Volatile.Read(ref _reservedBytes);
            if (bytes > CapacityBytes - current)
            {
                throw DomainException.Conflict(
                    ErrorCodes.HostCapacity,
                    $"{purpose} needs {Sizes.Format(bytes)} but host '{Name}' has only {Sizes.Format(CapacityBytes - current)} free of {Sizes.Format(CapacityBytes)}.");
            }
        }
        while (Interlocked.CompareExchange(ref _reservedBytes, current + bytes, current) != current);
    }

    internal void Unreserve(long bytes) => Interlocked.Add(ref _reservedBytes, -bytes);

    public override string ToString() => Name;
}
