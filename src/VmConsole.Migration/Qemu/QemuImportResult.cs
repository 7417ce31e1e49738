using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>What an import made: the VM (in the inventory, running), what the stream carried, and what it cost.</summary>
/// <param name="MachineType">The configuration section's name, e.g. <c>pc-q35-7.2</c>.</param>
/// <param name="Blocks">The RAM setup's blocks, in stream order.</param>
/// <param name="DeviceState">The device sections kept verbatim (also the VM's), null when the stream had none.</param>
public sealed record QemuImportResult(
    Vm Vm,
    string MachineType,
    IReadOnlyList<RamBlockHeader> Blocks,
    DeviceState? DeviceState,
    long BytesRead,
    long NormalPages,
    long ZeroPages,
    TimeSpan Duration);
