using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Qemu.Memory;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Driver;

/// <summary>
/// What an emulated VM is as a QEMU process, and whether a QEMU built that way can take its stream (DESIGN.md section
/// 11): QEMU matches the stream's blocks by idstr and length, resizing only a resizeable block within its maximum.
/// </summary>
public static class CrossDriverLayout
{
    /// <summary>
    /// The QEMU that can receive <paramref name="vm"/>: its machine, memory (under its main RAM backend or on its NUMA
    /// memdevs), slots and maxmem, every backend (plugged ones as pc-dimms, in slot order), no guest program.
    /// </summary>
    public static QemuVmSpec SpecFor(Vm vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var devices = vm.Devices;
        var backends = vm.RamBlocks
            .Where(b => b.BackendId is not null)
            .Select(b => new QemuMemoryBackend(b.BackendId!, b.UsedLength, devices.FirstOrDefault(d => d.Memdev == b.BackendId)?.Id))
            // QEMU gives pc-dimms their slots in command-line order: plugged ones after the rest, by the emulator's slot.
            .OrderBy(b => b.DimmId is null ? -1 : devices.First(d => d.Id == b.DimmId).Slot)
            .ToList();
        // A VM from QEMU keeps the source's ACPI memory hotplug state, one entry per slot: QEMU loads it only with as many.
        var slots = Math.Max(vm.Slots, Migration.Qemu.QemuMemoryHotplug.SlotsOf(vm.DeviceState));
        return new QemuVmSpec(vm.Name, vm.Machine.Name, vm.MemoryBytes)
        {
            MainRamBackend = vm.Definition.MainRamBackend,
            NumaNodes = vm.Definition.NumaNodes,
            Slots = slots,
            MaxMemBytes = slots == 0 ? 0 : vm.Slots > 0 ? vm.MaxMemBytes : vm.MemoryBytes + Sizes.GiB,
            Backends = backends,
        };
    }

    /// <summary>
    /// The first difference, block by block, between the migratable blocks of <paramref name="vm"/> and those of the QEMU
    /// reporting <paramref name="qemuBlocks"/>: a block of the VM QEMU has no migratable block of that idstr for, or has
    /// at another length it cannot be resized to (QEMU would refuse the stream); then a migratable block of QEMU the VM
    /// has none of (QEMU would load the stream and leave that RAM empty). Null when the layouts match.
    /// </summary>
    public static string? FirstMismatch(Vm vm, IReadOnlyList<QemuRamBlock> qemuBlocks)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(qemuBlocks);
        var blocks = vm.RamBlocks.Where(b => b.Migratable).ToList();
        foreach (var block in blocks)
        {
            var twin = qemuBlocks.FirstOrDefault(q => q.Migratable && q.IdStr == block.IdStr);
            if (twin is null)
            {
                return $"block '{block.IdStr}' ({Sizes.Format(block.UsedLength)}) has no migratable block of that name in QEMU's {vm.Machine.Name}";
            }

            if (twin.UsedLength != block.UsedLength && !(twin.Resizeable && block.UsedLength <= twin.MaxLength))
            {
                return $"block '{block.IdStr}' is {Sizes.Format(block.UsedLength)} here and {Sizes.Format(twin.UsedLength)} in QEMU's {vm.Machine.Name}, "
                    + (twin.Resizeable ? $"which can grow to {Sizes.Format(twin.MaxLength)} only" : "which cannot be resized");
            }
        }

        var extra = qemuBlocks.FirstOrDefault(q => q.Migratable && blocks.All(b => b.IdStr != q.IdStr));
        return extra is null
            ? null
            : $"QEMU's {vm.Machine.Name} has block '{extra.IdStr}' ({Sizes.Format(extra.UsedLength)}) and the VM has no block of that name, so that RAM would stay empty";
    }
}
