namespace VmConsole.Emulation.Drivers;

/// <summary>A host of either driver: its name, its memory, and why it cannot run VMs now, if it cannot.</summary>
public interface IVmHost
{
    string Name { get; }

    DriverKind Driver { get; }

    long CapacityBytes { get; }

    /// <summary>The memory its VMs reserve (RAM, firmware, backends).</summary>
    long ReservedBytes { get; }

    /// <summary>Null when the host can run VMs; otherwise the reason (e.g. QEMU is not installed).</summary>
    string? UnavailableReason { get; }
}
