using System.Buffers;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

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
