using VmConsole.Emulation.Vms;

namespace VmConsole.Emulation.Drivers;

/// <summary>
/// One driver's hosts and VMs (libvirt's <c>virHypervisorDriver</c>): every driver fills the same operations, and the
/// <see cref="VmInventory"/> in front of them never asks which one it holds.
/// </summary>
public interface IVmDriver
{
    /// <summary>Raised after a host or VM is added, removed or moved, with the VM's (or host's) name.</summary>
    event Action<InventoryChangeKind, string>? InventoryChanged;

    DriverKind Kind { get; }

    IReadOnlyList<IVmHost> VmHosts { get; }

    IReadOnlyList<IVirtualMachine> VirtualMachines { get; }

    bool TryGetVirtualMachine(string name, out IVirtualMachine vm);

    /// <summary>The VM of that name, or the driver's own refusal (e.g. 409 <c>vm-inmigrate</c> while it is still arriving).</summary>
    IVirtualMachine GetVirtualMachine(string name);

    /// <summary>Whether a VM of this name is defined or arriving here (names are unique across drivers).</summary>
    bool IsNameTaken(string name);

    /// <summary>Creates a VM on one of this driver's hosts, started when the definition says so.</summary>
    Task<IVirtualMachine> CreateVirtualMachineAsync(VmDefinition definition, CancellationToken cancellationToken = default);

    /// <summary>Deletes a VM: a migration it is in is cancelled first and waited for (bounded); a process is ended.</summary>
    Task DeleteVirtualMachineAsync(string name, CancellationToken cancellationToken = default);
}
