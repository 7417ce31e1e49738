namespace VmConsole.Migration.Wire;

/// <summary>
/// What the reader knows of the source's capabilities that change the stream: what the destination was told, then
/// what the stream itself says (a 16-byte POSTCOPY_ADVISE: postcopy-ram; the configuration's capabilities subsection:
/// x-ignore-shared).
/// </summary>
/// <remarks>Written and read only by the task reading the stream.</remarks>
internal sealed class SourceCapabilities(IncomingCapabilities told)
{
    public IncomingCapabilities Told => told;

    public bool PostcopyRam { get; set; } = told.PostcopyRam;

    public bool XIgnoreShared { get; set; } = told.XIgnoreShared;
}
