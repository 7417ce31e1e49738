namespace VmConsole.Migration.Qemu;

/// <summary>A device section of the stream (QEMU_VM_SECTION_FULL) as the description names it.</summary>
public sealed record DeviceSectionDescription(string Name, uint InstanceId, VmStateDescription State);
