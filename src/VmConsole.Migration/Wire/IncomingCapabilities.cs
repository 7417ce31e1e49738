namespace VmConsole.Migration.Wire;

/// <summary>
/// The capabilities a QEMU destination learns from its own settings (the user sets them on both ends) and that change
/// how the stream reads: <c>postcopy-ram</c> (a POSTCOPY_ADVISE with page sizes, and a page size in the block list for
/// a block whose pages are not the host's) and <c>x-ignore-shared</c> (a guest address per block in the block list).
/// </summary>
/// <param name="PostcopyRam">The destination has <c>postcopy-ram</c>: a 0-byte POSTCOPY_ADVISE is refused as QEMU does.
/// Without it a 16-byte advise still turns it on (the source has it: VmConsole takes such a stream, as long as it stays precopy).</param>
/// <param name="XIgnoreShared">The destination has <c>x-ignore-shared</c>: a stream whose configuration does not say the
/// source has it too is refused as QEMU does. Without it, the configuration's capabilities subsection still turns it on
/// (every block of the list then carries its guest address).</param>
/// <param name="Multifd">The source has <c>multifd</c>: besides the main connection it opens <paramref name="MultifdChannels"/>
/// more to the same address, which carry the non-zero pages (DESIGN.md section 12). Never sent: set on both ends.</param>
/// <param name="MultifdChannels">QEMU's <c>multifd-channels</c>, the same on both ends.</param>
/// <param name="MultifdCompression">QEMU's <c>multifd-compression</c>, the same on both ends.</param>
public sealed record IncomingCapabilities(
    bool PostcopyRam = false,
    bool XIgnoreShared = false,
    bool Multifd = false,
    int MultifdChannels = 2,
    MultifdCompression MultifdCompression = MultifdCompression.None)
{
    public static IncomingCapabilities Default { get; } = new();

    /// <summary>The parameters both ends share: QEMU's defaults, with multifd's channel count and compression when it is on.</summary>
    public Engine.MigrationParameters Parameters => Multifd
        ? Engine.MigrationParameters.Default with { MultifdChannels = MultifdChannels, MultifdCompression = MultifdCompression }
        : Engine.MigrationParameters.Default;
}
