using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// How <see cref="QemuDeviceSections"/> finds where each device section a <see cref="MigrationStreamReader"/> meets
/// (QEMU_VM_SECTION_FULL of anything but <c>ram</c>) ends, with the help of QEMU's description after EOF. With
/// <see cref="Description"/> known up front (read from the end of a file first) each section is read and kept as it
/// arrives; without it (a live stream) everything from the first device section on is kept, at most
/// <see cref="MaxDeviceStateBytes"/>, until the stream ends with the description, and then cut into sections.
/// </summary>
public sealed record DeviceStateSkipping
{
    public QemuVmDescription? Description { get; init; }

    /// <summary>Most bytes of device state (and description) kept, in all.</summary>
    public int MaxDeviceStateBytes { get; init; } = 64 << 20;
}
