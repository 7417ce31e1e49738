using VmConsole.Emulation.Blocks;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Machines;

/// <summary>
/// A machine type's fixed memory layout as QEMU 7.2 builds it: the main RAM block, then firmware blocks in
/// QEMU's creation order (so offsets come out as QEMU allocates them), and where RAM sits in guest-physical space.
/// </summary>
public sealed class MachinePreset
{
    private const long FourGiB = 4 * GiB;

    private MachinePreset(string name, string mainRamIdStr, long lowMemoryLimit, long lowMemorySplitAt, bool supportsHotplug, IReadOnlyList<FirmwareBlock> firmware)
    {
        Name = name;
        MainRamIdStr = mainRamIdStr;
        LowMemoryLimit = lowMemoryLimit;
        LowMemorySplitAt = lowMemorySplitAt;
        SupportsMemoryHotplug = supportsHotplug;
        Firmware = firmware;
    }

    public static MachinePreset Microvm { get; } = new(
        "microvm",
        "microvm.ram",
        lowMemoryLimit: 3 * GiB,
        lowMemorySplitAt: 3 * GiB,
        supportsHotplug: false,
        [
            new("pc.bios", 64 * KiB, 64 * KiB, RamBlockFlags.Migratable | RamBlockFlags.ReadOnly, size => FourGiB - size),
            new("/rom@etc/acpi/tables", 4 * KiB, 2 * MiB, RamBlockFlags.Migratable | RamBlockFlags.Resizeable | RamBlockFlags.ReadOnly, null),
            new("/rom@etc/table-loader", 4 * KiB, 64 * KiB, RamBlockFlags.Migratable | RamBlockFlags.Resizeable | RamBlockFlags.ReadOnly, null),
            new("/rom@etc/acpi/rsdp", 4 * KiB, 4 * KiB, RamBlockFlags.Migratable | RamBlockFlags.ReadOnly, null),
        ]);

    public static MachinePreset Q35 { get; } = new(
        "q35",
        "pc.ram",
        lowMemoryLimit: 2 * GiB,
        lowMemorySplitAt: 0xB000_0000,
        supportsHotplug: true,
        PcFirmware);

    /// <summary>i440fx: the same blocks as q35 at -m 512M, with its own split of RAM below 4 GiB.</summary>
    public static MachinePreset Pc { get; } = new(
        "pc",
        "pc.ram",
        lowMemoryLimit: 3 * GiB,
        lowMemorySplitAt: 0xE000_0000,
        supportsHotplug: true,
        PcFirmware);

    public static IReadOnlyList<MachinePreset> All { get; } = [Microvm, Q35, Pc];

    private static IReadOnlyList<FirmwareBlock> PcFirmware =>
    [
        new("pc.bios", 256 * KiB, 256 * KiB, RamBlockFlags.Migratable | RamBlockFlags.ReadOnly, size => FourGiB - size),
        new("pc.rom", 128 * KiB, 128 * KiB, RamBlockFlags.Migratable | RamBlockFlags.ReadOnly, _ => 0xC_0000),
        new("/rom@etc/acpi/tables", 128 * KiB, 2 * MiB, RamBlockFlags.Migratable | RamBlockFlags.Resizeable | RamBlockFlags.ReadOnly, null),
        new("/rom@etc/table-loader", 4 * KiB, 64 * KiB, RamBlockFlags.Migratable | RamBlockFlags.Resizeable | RamBlockFlags.ReadOnly, null),
        new("/rom@etc/acpi/rsdp", 4 * KiB, 4 * KiB, RamBlockFlags.Migratable | RamBlockFlags.ReadOnly, null),
    ];

    /// <summary>QEMU's -M name.</summary>
    public string Name { get; }

    public string MainRamIdStr { get; }

    /// <summary>RAM below 4 GiB when the VM has at least <see cref="LowMemorySplitAt"/> bytes; the rest goes above 4 GiB.</summary>
    public long LowMemoryLimit { get; }

    public long LowMemorySplitAt { get; }

    public bool SupportsMemoryHotplug { get; }

    public IReadOnlyList<FirmwareBlock> Firmware { get; }

    public static MachinePreset Find(string? name) =>
        All.FirstOrDefault(m => m.Name == name)
        ?? throw DomainException.Invalid(ErrorCodes.InvalidMachine, $"Unknown machine type '{Names.Shorten(name)}'; choose one of {string.Join(", ", All.Select(m => m.Name))}.");

    /// <summary>How much of a RAM size of <paramref name="ramSize"/> bytes lies below 4 GiB.</summary>
    public long BelowFourGiB(long ramSize) => ramSize >= LowMemorySplitAt ? LowMemoryLimit : ramSize;

    /// <summary>Where memory devices (pc-dimm) start: above the high RAM, aligned to 1 GiB.</summary>
    public long DeviceMemoryBase(long ramSize)
    {
        var above = ramSize - BelowFourGiB(ramSize);
        return (FourGiB + above + GiB - 1) / GiB * GiB;
    }

    public override string ToString() => Name;
}
