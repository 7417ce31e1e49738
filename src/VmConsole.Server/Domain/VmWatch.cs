using VmConsole.Emulation;
using VmConsole.Emulation.Vms;

namespace VmConsole.Server.Domain;

/// <summary>
/// Subscribes one handler to every VM in the inventory and follows the inventory: call <see cref="Refresh"/>
/// when it changes (VMs created, moved by a migration, deleted). Dispose to unsubscribe from all.
/// </summary>
public sealed class VmWatch : IDisposable
{
    private readonly Emulator _emulator;
    private readonly Action<Vm, VmChangeKind> _handler;

    // Guarded by itself: Refresh and Dispose may run on any thread.
    private readonly HashSet<Vm> _watched = [];

    public VmWatch(Emulator emulator, Action<Vm, VmChangeKind> handler)
    {
        _emulator = emulator;
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
                var gone = !_emulator.TryGetVm(vm.Name, out var current) || current != vm;
                if (gone)
                {
                    vm.Changed -= _handler;
                }

                return gone;
            });
            foreach (var vm in _emulator.Vms.Where(v => !_watched.Contains(v)))
            {
                vm.Changed += _handler;
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
                vm.Changed -= _handler;
            }

            _watched.Clear();
        }
    }
}
