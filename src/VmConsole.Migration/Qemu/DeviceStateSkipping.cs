using System.Buffers;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// How <see cref="QemuDeviceSections"/> steps over the device sections a <see cref="MigrationStreamReader"/> meets
/// (QEMU_VM_SECTION_FULL of anything but <c>ram</c>) with the help of QEMU's description after EOF. With
/// <see cref="Description"/> known up front (read from the end of a file first) each section is stepped over as it
/// arrives; without it (a live stream) everything from the first device section on is kept, at most
/// <see cref="MaxDeviceStateBytes"/>, until the stream ends with the description, and then stepped over.
/// </summary>
public sealed record DeviceStateSkipping
{
    public QemuVmDescription? Description { get; init; }

    /// <summary>Most bytes of device state (and description) kept while waiting for the description.</summary>
    public int MaxDeviceStateBytes { get; init; } = 64 << 20;
}

/// <summary>Steps over one VMState's bytes as its description gives them (fields, then each subsection it wrote).</summary>
internal static class DeviceStateSkipper
{
    /// <summary>False when the buffer ends inside the state (nothing to undo: the caller rewinds).</summary>
    public static bool TrySkip(ref SequenceReader<byte> reader, VmStateDescription state, string section)
    {
        if (reader.Remaining < state.FieldBytes)
        {
            return false;
        }

        reader.Advance(state.FieldBytes);
        Span<byte> name = stackalloc byte[WireText.MaxIdStrLength];
        foreach (var subsection in state.Subsections)
        {
            if (!reader.TryRead(out var mark))
            {
                return false;
            }

            if (mark != QemuFormat.Subsection)
            {
                throw new MigrationStreamException($"Subsection {subsection.VmsdName} not found in section '{section}' (got byte 0x{mark:x2})");
            }

            if (!reader.TryRead(out var length) || !reader.TryCopyTo(name[..length]))
            {
                return false;
            }

            reader.Advance(length);
            if (!reader.TryReadBigEndian(out int _))
            {
                return false;
            }

            if (!name[..length].SequenceEqual(System.Text.Encoding.UTF8.GetBytes(subsection.VmsdName)))
            {
                throw new MigrationStreamException(
                    $"Subsection '{WireText.Lenient(name[..length])}' of section '{section}' is not the '{subsection.VmsdName}' the VM description lists");
            }

            if (!TrySkip(ref reader, subsection, section))
            {
                return false;
            }
        }

        return true;
    }
}
