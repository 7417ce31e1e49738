using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;

namespace VmConsole.Qemu.Driver;

/// <summary>How a VM's name passes between this driver and another one at the end of a migration between drivers.</summary>
public sealed partial class QemuDriver
{
    /// <summary>How long deleting or shutting down a VM of this driver waits for its migration to let go.</summary>
    internal TimeSpan TeardownTimeout => _teardownTimeout;

    /// <summary>
    /// Lists a VM that arrived from another driver, without saying so yet: the other driver still holds the name until it
    /// lets go, then <see cref="RaiseArrived"/> says the VM moved here.
    /// </summary>
    /// <exception cref="DomainException">409 <c>vm-exists</c> when this driver already has a VM of that name.</exception>
    internal void AddArrived(QemuDomain domain)
    {
        ArgumentNullException.ThrowIfNull(domain);
        lock (_gate)
        {
            if (_domains.ContainsKey(domain.Name))
            {
                throw DomainException.Conflict(ErrorCodes.VmExists, $"A VM named '{domain.Name}' already exists.");
            }

            _domains = _domains.Add(domain.Name, domain);
        }
    }

    /// <summary>Says that the VM <see cref="AddArrived"/> listed is here now (after its old driver let go of the name).</summary>
    internal void RaiseArrived(string name) => InventoryChanged?.Invoke(InventoryChangeKind.VmMoved, name);

    /// <summary>
    /// Takes a VM off this driver's list once another driver runs it: said as moved (not removed), since the name lives on
    /// in the other driver. Returns false when it was no longer listed as this domain.
    /// </summary>
    internal bool RemoveDeparted(QemuDomain domain)
    {
        ArgumentNullException.ThrowIfNull(domain);
        lock (_gate)
        {
            if (!_domains.TryGetValue(domain.Name, out var current) || current != domain)
            {
                return false;
            }

            _domains = _domains.Remove(domain.Name);
        }

        InventoryChanged?.Invoke(InventoryChangeKind.VmMoved, domain.Name);
        return true;
    }

    /// <summary>Removes a VM's directory on a host (what a QEMU that has gone left there).</summary>
    internal static void RemoveVmDirectory(string directory) => RemoveDirectory(directory);
}
