namespace VmConsole.Migration.Wire;

/// <summary>Sections a QEMU 7.2 source sends with some capabilities that VmConsole cannot take: refused by name, before anything is read of them.</summary>
internal static class UnsupportedSections
{
    /// <summary>The iterable sections QEMU 7.2 sends besides RAM, which carry what VmConsole does not keep: refused, named.</summary>
    public static void Refuse(scoped ReadOnlySpan<byte> id)
    {
        if (id.SequenceEqual("block"u8))
        {
            throw new MigrationStreamException(
                "Block migration is not supported: the source sends its disks in section 'block' (capability 'block', or migrate -b / -i), and VmConsole receives RAM and device state only. Migrate without it; copy the disks separately (drive-mirror).");
        }

        if (id.SequenceEqual("dirty-bitmap"u8))
        {
            throw new MigrationStreamException(
                "Dirty bitmap migration is not supported: the source sends its block dirty bitmaps in section 'dirty-bitmap' (capability 'dirty-bitmaps'), and VmConsole has no disks to keep them for. Migrate without it.");
        }
    }
}
