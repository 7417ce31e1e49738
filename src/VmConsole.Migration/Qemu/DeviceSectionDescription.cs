namespace VmConsole.Migration.Qemu;

/// <summary>
/// A device section of the stream (QEMU_VM_SECTION_FULL) as the description names it: its state's layout, and the
/// device's object in the description's <c>devices</c> array as QEMU wrote it (<paramref name="Json"/>), kept with the
/// section to be sent back.
/// </summary>
public sealed record DeviceSectionDescription(string Name, uint InstanceId, VmStateDescription State, string Json);
