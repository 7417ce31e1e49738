using System.Buffers;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Wire;

/// <summary>
/// What opens every stream, before its sections: the file header (magic and version) and the configuration section
/// with the machine type (QEMU's savevm.c, <c>qemu_loadvm_state</c>). Each is false when the buffer ends inside it.
/// </summary>
internal static class StreamPreamble
{
    public static bool TryReadHeader(ref SequenceReader<byte> reader)
    {
        if (!TryReadBe32(ref reader, out var magic))
        {
            return false;
        }

        if (magic != QemuFormat.FileMagic)
        {
            throw new MigrationStreamException("Not a migration stream");
        }

        if (!TryReadBe32(ref reader, out var version))
        {
            return false;
        }

        if (version == 2)
        {
            throw new MigrationStreamException("SaveVM v2 format is obsolete and don't work anymore");
        }

        if (version != QemuFormat.FileVersion)
        {
            throw new MigrationStreamException("Unsupported migration stream version");
        }

        return true;
    }

    public static bool TryReadConfiguration(ref SequenceReader<byte> reader, MigrationStreamLimits limits, out string machineType)
    {
        machineType = "";
        if (!reader.TryRead(out var type))
        {
            return false;
        }

        if (type != QemuFormat.Configuration)
        {
            throw new MigrationStreamException("Configuration section missing");
        }

        if (!TryReadBe32(ref reader, out var length))
        {
            return false;
        }

        if (length > (uint)limits.MaxMachineTypeLength)
        {
            throw new MigrationStreamException(
                $"Configuration section: a machine type of {length} bytes is longer than the limit of {limits.MaxMachineTypeLength}");
        }

        if (reader.Remaining < length)
        {
            return false;
        }

        var name = reader.UnreadSequence.Slice(0, length);
        if (!WireText.TryDecode(name, out machineType))
        {
            throw new MigrationStreamException("Configuration section: the machine type is not valid UTF-8");
        }

        reader.Advance(length);
        return true;
    }
}
