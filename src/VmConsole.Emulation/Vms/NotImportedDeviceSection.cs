namespace VmConsole.Emulation.Vms;

/// <summary>
/// Device state a QEMU stream carried that VmConsole does not model (a QEMU_VM_SECTION_FULL other than RAM): kept
/// on the VM it was imported into, to be shown, not loaded.
/// </summary>
public sealed record NotImportedDeviceSection(string Name, uint InstanceId, uint VersionId, long Bytes);
