namespace VmConsole.Migration.Wire;

/// <summary>The header of a device section (QEMU_VM_SECTION_FULL): its section id, idstr, instance and version.</summary>
public readonly record struct DeviceSectionHeader(uint SectionId, string Name, uint InstanceId, uint VersionId);
