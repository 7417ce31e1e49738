namespace VmConsole.Server.Api;

/// <summary>
/// The CPU and device state a VM carries for QEMU: the sections QEMU sent with it, kept verbatim and sent back when it
/// goes to QEMU. <paramref name="Carried"/> false (no sections) for a VM made in the console, which QEMU boots from reset.
/// </summary>
/// <param name="Note">What QEMU does with the VM's stream, in one sentence.</param>
public sealed record DeviceStateDto(bool Carried, string Note, IReadOnlyList<DeviceSectionDto> Sections, long StateBytes);

/// <summary>One device section: QEMU's idstr, instance and version ids, and the bytes of its state.</summary>
public sealed record DeviceSectionDto(string Name, uint InstanceId, uint VersionId, long Bytes);
