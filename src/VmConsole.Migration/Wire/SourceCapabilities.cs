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

    public bool XIgnoreShared { get; private set; } = told.XIgnoreShared;

    /// <summary>
    /// The capabilities the configuration section says the source has, which QEMU validates on both ends (savevm.c
    /// <c>configuration_validate_capabilities</c>): told on and received off is QEMU's error; received on turns it on
    /// (the console learns what a QEMU destination is told).
    /// </summary>
    public void TakeValidated(bool xIgnoreShared)
    {
        if (told.XIgnoreShared && !xIgnoreShared)
        {
            throw new MigrationStreamException("Capability x-ignore-shared is on, but received capability is off");
        }

        XIgnoreShared = xIgnoreShared;
    }
}
