using VmConsole.Emulation.Machines;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Vms;

/// <summary>
/// A VM's memory slots: the pc-dimm devices plugged in them, which slot and guest-physical address a new one gets,
/// and the room maxmem leaves. Used under the VM's gate.
/// </summary>
internal sealed class DimmSlots(string vmName, MachinePreset machine, long memoryBytes, int slots, long maxMemBytes)
{
    private readonly Dictionary<string, MemoryDevice> _devices = new(StringComparer.Ordinal);

    /// <summary>The plugged devices in slot order.</summary>
    public IEnumerable<MemoryDevice> BySlot => _devices.Values.OrderBy(d => d.Slot);

    /// <summary>Whether a device uses the memory backend <paramref name="backendId"/>.</summary>
    public bool Uses(string? backendId) => _devices.Values.Any(d => d.Memdev == backendId);

    /// <summary>The checks device_add makes before it looks for the backend: the machine has slots, and the id is free.</summary>
    public void CheckCanPlug(string deviceId)
    {
        if (!machine.SupportsMemoryHotplug)
        {
            throw DomainException.Conflict(ErrorCodes.HotplugUnsupported, $"Machine '{machine.Name}' does not support memory devices (pc-dimm).");
        }

        if (slots == 0)
        {
            throw DomainException.Conflict(ErrorCodes.NoSlots, $"VM '{vmName}' was created without memory slots; give it slots and maxmem to plug memory devices.");
        }

        if (_devices.ContainsKey(deviceId))
        {
            throw DomainException.Conflict(ErrorCodes.DeviceExists, $"Duplicate device ID '{deviceId}' on VM '{vmName}'.");
        }
    }

    /// <summary>Where a device on backend <paramref name="memdev"/> of <paramref name="size"/> bytes goes: the first free slot, and the first 2 MiB-aligned gap in device memory.</summary>
    public (int Slot, long Address) Place(string memdev, long size)
    {
        if (Uses(memdev))
        {
            throw DomainException.Conflict(ErrorCodes.BackendInUse, $"can't use already busy memdev: {memdev}");
        }

        var slot = Enumerable.Range(0, slots).FirstOrDefault(s => _devices.Values.All(d => d.Slot != s), -1);
        if (slot < 0)
        {
            throw DomainException.Conflict(ErrorCodes.NoFreeSlot, $"All {slots} memory slots of VM '{vmName}' are in use.");
        }

        var plugged = _devices.Values.Sum(d => d.Size);
        if (size > maxMemBytes - memoryBytes - plugged)
        {
            throw DomainException.Conflict(
                ErrorCodes.MaxmemExceeded,
                $"not enough space for '{memdev}' ({Format(size)}): {Format(plugged)} in use of {Format(maxMemBytes - memoryBytes)} for memory devices (maxmem {Format(maxMemBytes)}).");
        }

        return (slot, FindAddress(size));
    }

    public void Add(MemoryDevice device) => _devices.Add(device.Id, device);

    /// <summary>The plugged device <paramref name="deviceId"/>.</summary>
    /// <exception cref="DomainException">device-not-found.</exception>
    public MemoryDevice Get(string? deviceId) =>
        _devices.TryGetValue(deviceId ?? "", out var device)
            ? device
            : throw DomainException.NotFound(ErrorCodes.DeviceNotFound, $"Device '{Names.Shorten(deviceId)}' not found on VM '{vmName}'.");

    public void Remove(MemoryDevice device) => _devices.Remove(device.Id);

    private long FindAddress(long size)
    {
        const long align = 2 * MiB;
        var address = machine.DeviceMemoryBase(memoryBytes);
        foreach (var device in _devices.Values.OrderBy(d => d.Address))
        {
            if (address + size <= device.Address)
            {
                break;
            }

            address = (device.Address + device.Size + align - 1) / align * align;
        }

        return address;
    }
}
