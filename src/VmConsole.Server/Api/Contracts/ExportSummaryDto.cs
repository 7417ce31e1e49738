namespace VmConsole.Server.Api;

/// <param name="DeviceState">The device state written after the memory, or none (QEMU boots the VM from reset), with a sentence saying which.</param>
public sealed record ExportSummaryDto(
    string Vm, string Path, string MachineType, IReadOnlyList<StreamBlockDto> Blocks, long BytesWritten, long NormalPages, long ZeroPages, DeviceStateDto DeviceState);
