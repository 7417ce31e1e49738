using VmConsole.Emulation.Machines;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// QEMU's machine type names as the configuration section carries them: <c>-M q35</c> is an alias, and the stream
/// names the versioned type (<c>pc-q35-7.2</c>); <c>pc</c> is <c>pc-i440fx-7.2</c>; <c>microvm</c> has no versions.
/// </summary>
public static class QemuMachineTypes
{
    /// <summary>The versioned names QEMU 7.2 writes for VmConsole's presets.</summary>
    public static string ToQemuName(MachinePreset machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        return machine == MachinePreset.Q35 ? "pc-q35-7.2" : machine == MachinePreset.Pc ? "pc-i440fx-7.2" : machine.Name;
    }

    /// <summary>The preset a QEMU machine type name stands for, or null when VmConsole does not model it.</summary>
    public static MachinePreset? FindPreset(string machineType) => machineType switch
    {
        "microvm" => MachinePreset.Microvm,
        "q35" => MachinePreset.Q35,
        "pc" => MachinePreset.Pc,
        _ when machineType.StartsWith("pc-q35-", StringComparison.Ordinal) => MachinePreset.Q35,
        _ when machineType.StartsWith("pc-i440fx-", StringComparison.Ordinal) => MachinePreset.Pc,
        _ => null,
    };
}
