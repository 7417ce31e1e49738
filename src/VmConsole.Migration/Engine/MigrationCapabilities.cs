using VmConsole.Emulation;

namespace VmConsole.Migration.Engine;

/// <summary>QEMU's migration capabilities (migrate-set-capabilities).</summary>
public sealed record MigrationCapabilities
{
    public bool AutoConverge { get; init; }

    public bool PostcopyRam { get; init; }

    public bool PauseBeforeSwitchover { get; init; }

    public bool Multifd { get; init; }

    public bool Xbzrle { get; init; }

    public bool Events { get; init; } = true;

    public static MigrationCapabilities Default { get; } = new();

    /// <summary>Every capability under QEMU's name (<c>migrate-set-capabilities</c>), with its state.</summary>
    public IReadOnlyList<(string Name, bool State)> ByQemuName() =>
    [
        ("events", Events), ("auto-converge", AutoConverge), ("pause-before-switchover", PauseBeforeSwitchover),
        ("xbzrle", Xbzrle), ("multifd", Multifd), ("postcopy-ram", PostcopyRam),
    ];

    /// <summary>The QEMU names of the capabilities that are on.</summary>
    public IEnumerable<string> EnabledQemuNames() => ByQemuName().Where(c => c.State).Select(c => c.Name);

    /// <summary>Refuses what this engine does not do, rather than silently ignoring it.</summary>
    public void Validate()
    {
        if (PostcopyRam)
        {
            throw DomainException.Invalid(ErrorCodes.UnsupportedCapability, field: "postcopyRam", message: "Capability 'postcopyRam' is not supported: VmConsole migrates with precopy only.");
        }

        if (Xbzrle && Multifd)
        {
            throw DomainException.Invalid(
                ErrorCodes.UnsupportedCapability,
                field: "xbzrle",
                message: "Capabilities 'xbzrle' and 'multifd' do not go together: QEMU 7.2 sends multifd pages whole and never uses XBZRLE with multifd; turn one off.");
        }
    }
}
