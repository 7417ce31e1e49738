using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;

namespace VmConsole.Server.Domain;

/// <summary>
/// Subscribes one handler to every VM in the inventory, of every driver, and follows the inventory: call
/// <see cref="Refresh"/> when it changes (VMs created, moved by a migration, deleted). Dispose to unsubscribe from all.
/// </summary>
public sealed class VmWatch : IDisposable
{
    private readonly VmInventory _inventory;
    private readonly Action<IVirtualMachine, VmChangeKind> _handler;

    // Guarded by itself: Refresh and Dispose may run on any thread.
    private readonly HashSet<IVirtualMachine> _watched = new(ReferenceEqualityComparer.Instance);

    public VmWatch(VmInventory inventory, Action<IVirtualMachine, VmChangeKind> handler)
    {
        _inventory = inventory;
        _handler = handler;
        Refresh();
    }

    /// <summary>Subscribes to VMs new to the inventory and lets go of those that left it.</summary>
    public void Refresh()
    {
        lock (_watched)
        {
            _watched.RemoveWhere(vm =>
            {
                var gone = !_inventory.TryGet(vm.Name, out var current) || !ReferenceEquals(current, vm);
                if (gone)
                {
                    vm.StateChanged -= _handler;
                }

                return gone;
            });
            foreach (var vm in _inventory.Vms.Where(v => !_watched.Contains(v)))
            {
                vm.StateChanged += _handler;
                _watched.Add(vm);
            }
        }
    }

    public void Dispose()
    {
        lock (_watched)
        {
            foreach (var vm in _watched)
            {
                vm.StateChanged -= _handler;
            }

            _watched.Clear();
        }
    }
}
