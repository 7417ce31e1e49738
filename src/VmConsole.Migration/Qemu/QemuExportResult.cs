using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>What an export wrote.</summary>
/// <param name="DeviceState">The device state written after the RAM (QEMU goes on where the guest stopped); null when the
/// VM has none, so that QEMU boots it from reset.</param>
public sealed record QemuExportResult(
    string MachineType, IReadOnlyList<RamBlockHeader> Blocks, long BytesWritten, long NormalPages, long ZeroPages, DeviceState? DeviceState)
{
    /// <summary>What QEMU does with the stream, in one sentence for the API and the UI.</summary>
    public string DeviceStateNote => DeviceStateNotes.For(DeviceState);
}
