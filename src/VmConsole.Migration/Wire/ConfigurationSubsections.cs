using System.Buffers;
using System.Text;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Wire;

/// <summary>
/// The subsections QEMU 7.2 may put in the configuration section (savevm.c <c>vmstate_configuration</c>): the
/// capabilities both ends must agree on (<c>configuration/capabilities</c>: only <c>x-ignore-shared</c> in 7.2), the
/// source's UUID with <c>validate-uuid</c> (<c>configuration/uuid</c>), the target page bits when not the minimum.
/// </summary>
internal static class ConfigurationSubsections
{
    private const int MaxCapabilities = 64;

    /// <summary>
    /// Reads the subsections after the machine type, all or nothing (false: the buffer ended inside them).
    /// <paramref name="xIgnoreShared"/>: the source has x-ignore-shared.
    /// </summary>
    public static bool TryRead(ref SequenceReader<byte> reader, out bool xIgnoreShared)
    {
        xIgnoreShared = false;
        var probe = reader;
        Span<byte> name = stackalloc byte[WireText.MaxIdStrLength];
        while (true)
        {
            if (!probe.TryPeek(out var type))
            {
                return false;
            }

            if (type != QemuFormat.Subsection)
            {
                reader = probe;
                return true;
            }

            probe.Advance(1);
            if (!TryReadIdStr(ref probe, name, out var length) || !TryReadBe32(ref probe, out _))
            {
                return false;
            }

            var id = name[..length];
            if (id.SequenceEqual("configuration/capabilities"u8))
            {
                if (!TryReadCapabilities(ref probe, name, ref xIgnoreShared))
                {
                    return false;
                }
            }
            else if (id.SequenceEqual("configuration/uuid"u8))
            {
                // validate-uuid: QEMU compares it with its own -uuid when it has one; the console has none.
                if (probe.Remaining < 16)
                {
                    return false;
                }

                probe.Advance(16);
            }
            else if (id.SequenceEqual("configuration/target-page-bits"u8))
            {
                if (!TryReadBe32(ref probe, out var bits))
                {
                    return false;
                }

                if (bits != 12)
                {
                    throw new MigrationStreamException($"Received TARGET_PAGE_BITS is {bits} but local is 12");
                }
            }
            else
            {
                throw new MigrationStreamException($"Configuration section: unknown subsection '{WireText.Lenient(id)}'");
            }
        }
    }

    private static bool TryReadCapabilities(ref SequenceReader<byte> probe, scoped Span<byte> name, ref bool xIgnoreShared)
    {
        if (!TryReadBe32(ref probe, out var count))
        {
            return false;
        }

        if (count > MaxCapabilities)
        {
            throw new MigrationStreamException($"Configuration section: {count} capabilities received, more than QEMU has");
        }

        for (var i = 0; i < count; i++)
        {
            if (!TryReadIdStr(ref probe, name, out var length))
            {
                return false;
            }

            if (!name[..length].SequenceEqual("x-ignore-shared"u8))
            {
                throw new MigrationStreamException($"Received unknown capability {Encoding.UTF8.GetString(name[..length])}");
            }

            xIgnoreShared = true;
        }

        return true;
    }
}
