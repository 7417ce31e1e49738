using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Vms;

/// <summary>
/// A QEMU VM's memory backends and pc-dimms, changed over QMP with the console's freeze in front of QEMU (DESIGN.md
/// sections 3 and 10): while a migration holds the VM, plugging or unplugging a DIMM and removing a backend a device
/// uses are refused with <c>migratable-set-frozen</c>, naming the block and the migration; adding a backend and
/// removing one no device uses stay allowed, as QEMU and the seed allow them. An unplug only asks the guest
/// (<c>device_del</c>): it stays pending until QEMU says <c>DEVICE_DELETED</c>.
/// </summary>
public sealed class QemuVmMemory
{
    private readonly QemuVm _vm;
    private readonly Lock _gate = new();

    // Written under _gate.
    private IMigration? _holder;
    private readonly HashSet<string> _pendingUnplugs = new(StringComparer.Ordinal);

    internal QemuVmMemory(QemuVm vm)
    {
        _vm = vm;
        vm.Instance.Qmp.EventReceived += e =>
        {
            if (e.Name == "DEVICE_DELETED" && e.Data.TryGetProperty("device", out var device) && device.GetString() is { } id)
            {
                lock (_gate)
                {
                    _pendingUnplugs.Remove(id);
                }

                UpdateSpec(backends => [.. backends.Select(b => b.DimmId == id ? b with { DimmId = null } : b)]);
            }
        };
    }

    /// <summary>DIMMs asked to leave that the guest has not let go of yet.</summary>
    public IReadOnlyCollection<string> PendingUnplugs
    {
        get
        {
            lock (_gate)
            {
                return [.. _pendingUnplugs];
            }
        }
    }

    /// <summary>The migration holding the VM's migratable set, if any.</summary>
    public IMigration? Holder
    {
        get
        {
            lock (_gate)
            {
                return _holder;
            }
        }
    }

    /// <summary><c>object-add memory-backend-ram</c>: allowed during a migration (its block is not migratable until a device uses it).</summary>
    public async Task AddBackendAsync(string id, long sizeBytes, CancellationToken cancellationToken = default)
    {
        Names.ValidateQemuId(id, "backend id");
        if (sizeBytes < Sizes.MiB || sizeBytes % Sizes.MiB != 0)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidSize, $"Backend '{id}' must be a whole number of MiB, at least 1 MiB.", "size");
        }

        await _vm.RunAsync("object-add", new Dictionary<string, object> { ["qom-type"] = "memory-backend-ram", ["id"] = id, ["size"] = sizeBytes }, cancellationToken).ConfigureAwait(false);
        UpdateSpec(backends => [.. backends, new QemuMemoryBackend(id, sizeBytes)]);
    }

    /// <summary><c>object-del</c> of a backend; refused for one a device uses while a migration holds the VM (and by QEMU at any time).</summary>
    public async Task RemoveBackendAsync(string id, CancellationToken cancellationToken = default)
    {
        Names.ValidateQemuId(id, "backend id");
        var used = (await _vm.RamBlocksAsync(cancellationToken).ConfigureAwait(false)).Any(b => b.BackendId == id && b.DeviceId is not null);
        if (used)
        {
            RefuseWhileHeld("remove the backend of", id);
            throw DomainException.Conflict(ErrorCodes.BackendInUse, $"Backend '{id}' of VM '{_vm.Name}' is plugged in a memory device: unplug the device first.");
        }

        await _vm.RunAsync("object-del", new Dictionary<string, object> { ["id"] = id }, cancellationToken).ConfigureAwait(false);
        UpdateSpec(backends => [.. backends.Where(b => b.Id != id)]);
    }

    /// <summary><c>device_add pc-dimm</c>: the backend's block becomes migratable, so it is refused while a migration holds the VM.</summary>
    public async Task PlugDimmAsync(string deviceId, string backendId, CancellationToken cancellationToken = default)
    {
        Names.ValidateQemuId(deviceId, "device id");
        Names.ValidateQemuId(backendId, "backend id");
        RefuseWhileHeld("plug a memory device on", backendId);
        await _vm.RunAsync("device_add", new Dictionary<string, object> { ["driver"] = "pc-dimm", ["id"] = deviceId, ["memdev"] = backendId }, cancellationToken).ConfigureAwait(false);
        UpdateSpec(backends => [.. backends.Select(b => b.Id == backendId ? b with { DimmId = deviceId } : b)]);
    }

    /// <summary><c>device_del</c>: asks the guest to release the DIMM; pending until <c>DEVICE_DELETED</c>. Refused while a migration holds the VM.</summary>
    public async Task UnplugDimmAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        Names.ValidateQemuId(deviceId, "device id");
        // Said as the block it would take out of the migratable set: the backend the device plugs.
        RefuseWhileHeld($"unplug memory device '{deviceId}' from", _vm.Spec.Backends.FirstOrDefault(b => b.DimmId == deviceId)?.Id ?? deviceId);
        await _vm.RunAsync("device_del", new Dictionary<string, object> { ["id"] = deviceId }, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _pendingUnplugs.Add(deviceId);
        }

        _vm.RaiseMemoryChanged();
    }

    /// <summary>Takes the VM's migratable set for <paramref name="migration"/>, before its first command to QEMU.</summary>
    /// <exception cref="MigratableSetFrozenException">Another migration holds it.</exception>
    internal void Hold(IMigration migration)
    {
        lock (_gate)
        {
            if (_holder is { } other)
            {
                throw new MigratableSetFrozenException(_vm.Name, "migrate", null, other.Id, other.Status.ToQemuName());
            }

            _holder = migration;
        }
    }

    /// <summary>Lets go, once the migration has ended and been cleaned up.</summary>
    internal void Release(IMigration migration)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_holder, migration))
            {
                _holder = null;
            }
        }
    }

    // The spec follows what QEMU accepted, so a destination started from it matches; serialised by _gate.
    private void UpdateSpec(Func<IReadOnlyList<QemuMemoryBackend>, IReadOnlyList<QemuMemoryBackend>> change)
    {
        lock (_gate)
        {
            _vm.Spec = _vm.Spec with { Backends = change(_vm.Spec.Backends) };
        }

        _vm.RaiseMemoryChanged();
    }

    private void RefuseWhileHeld(string operation, string block)
    {
        if (Holder is { } migration)
        {
            throw new MigratableSetFrozenException(_vm.Name, operation, block, migration.Id, migration.Status.ToQemuName());
        }
    }
}
