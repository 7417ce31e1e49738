using System.Text;
using VmConsole.Emulation.Machines;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// QEMU's machine type names as the configuration section carries them: <c>-M q35</c> is an alias, and the stream
/// names the versioned type (<c>pc-q35-7.2</c>); <c>pc</c> is <c>pc-i440fx-7.2</c>; <c>microvm</c> has no versions.
/// </summary>
public static class QemuMachineTypes
{
    /// <summary>The versions of <c>pc-q35-*</c> QEMU 7.2 has (<c>qemu-system-x86_64 -M help</c>).</summary>
    private static readonly HashSet<string> Q35Versions =
    [
        "7.2", "7.1", "7.0", "6.2", "6.1", "6.0", "5.2", "5.1", "5.0", "4.2", "4.1", "4.0.1", "4.0", "3.1", "3.0",
        "2.12", "2.11", "2.10", "2.9", "2.8", "2.7", "2.6", "2.5", "2.4",
    ];

    /// <summary>The versions of <c>pc-i440fx-*</c> QEMU 7.2 has (<c>qemu-system-x86_64 -M help</c>).</summary>
    private static readonly HashSet<string> I440fxVersions =
    [
        "7.2", "7.1", "7.0", "6.2", "6.1", "6.0", "5.2", "5.1", "5.0", "4.2", "4.1", "4.0", "3.1", "3.0",
        "2.12", "2.11", "2.10", "2.9", "2.8", "2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0", "1.7", "1.6", "1.5", "1.4",
    ];

    private const string Q35Prefix = "pc-q35-";
    private const string I440fxPrefix = "pc-i440fx-";

    /// <summary>The versioned names QEMU 7.2 writes for VmConsole's presets.</summary>
    public static string ToQemuName(MachinePreset machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        return machine == MachinePreset.Q35 ? "pc-q35-7.2" : machine == MachinePreset.Pc ? "pc-i440fx-7.2" : machine.Name;
    }

    /// <summary>
    /// The preset a QEMU machine type name stands for, or null when VmConsole does not model it or QEMU 7.2 has no
    /// machine of that exact name (a version it does not know, a stray byte).
    /// </summary>
    public static MachinePreset? FindPreset(string machineType) => machineType switch
    {
        "microvm" => MachinePreset.Microvm,
        "q35" => MachinePreset.Q35,
        "pc" => MachinePreset.Pc,
        _ when machineType.StartsWith(Q35Prefix, StringComparison.Ordinal) && Q35Versions.Contains(machineType[Q35Prefix.Length..]) => MachinePreset.Q35,
        _ when machineType.StartsWith(I440fxPrefix, StringComparison.Ordinal) && I440fxVersions.Contains(machineType[I440fxPrefix.Length..]) => MachinePreset.Pc,
        _ => null,
    };

    /// <summary>
    /// The refusal of a configuration section whose machine type <see cref="FindPreset"/> does not know: QEMU 7.2's
    /// words (savevm.c, <c>configuration_post_load</c>) when the name claims a family VmConsole models, with the
    /// machine QEMU 7.2 would run for it as the local one.
    /// </summary>
    public static MigrationStreamException Refuse(string machineType)
    {
        ArgumentNullException.ThrowIfNull(machineType);
        var family = machineType.StartsWith(Q35Prefix, StringComparison.Ordinal) ? MachinePreset.Q35
            : machineType.StartsWith(I440fxPrefix, StringComparison.Ordinal) ? MachinePreset.Pc
            : machineType.StartsWith(MachinePreset.Microvm.Name, StringComparison.Ordinal) ? MachinePreset.Microvm
            : null;
        return family is null
            ? new MigrationStreamException($"Machine type received is '{Printable(machineType)}': VmConsole models microvm, q35 (pc-q35-*) and pc (pc-i440fx-*)")
            : Mismatch(machineType, ToQemuName(family));
    }

    /// <summary>QEMU's words for a machine type that is not the local one.</summary>
    public static MigrationStreamException Mismatch(string received, string local) =>
        new($"Machine type received is '{Printable(received)}' and local is '{local}'");

    /// <summary>The name with control characters shown as <c>\xNN</c>, so that a message shows what was received.</summary>
    public static string Printable(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var printable = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (char.IsControl(c))
            {
                printable.Append($"\\x{(int)c:x2}");
            }
            else
            {
                printable.Append(c);
            }
        }

        return printable.ToString();
    }
}
