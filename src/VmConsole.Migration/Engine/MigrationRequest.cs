namespace VmConsole.Migration.Engine;

/// <summary>What to migrate where (QMP migrate, with VmConsole's destination hosts).</summary>
public sealed record MigrationRequest(string Vm)
{
    /// <summary>A host of this server to move the VM to.</summary>
    public string? DestinationHost { get; init; }

    /// <summary>
    /// The transport: with <see cref="DestinationHost"/>, the bytes go through this socket to the destination in this
    /// process; without it, to an external peer (a QEMU listening with -incoming) or a file.
    /// </summary>
    public string? Uri { get; init; }

    /// <summary>
    /// A host of the console outside this engine (a QEMU host) whose process listens on <see cref="Uri"/>: shown as the
    /// migration's destination host. Nothing is created for it here; it needs a <see cref="Uri"/> and no
    /// <see cref="DestinationHost"/>.
    /// </summary>
    public string? PeerHost { get; init; }

    public MigrationParameters Parameters { get; init; } = MigrationParameters.Default;

    public MigrationCapabilities Capabilities { get; init; } = MigrationCapabilities.Default;

    /// <summary>Leave out VmConsole's own device-state section, so that QEMU can load the stream.</summary>
    public bool QemuCompatible { get; init; }

    /// <summary>
    /// For a peer outside the engine (a QEMU listening on <see cref="Uri"/>): awaited once the whole stream is sent and
    /// before the switchover is committed; it returns when the peer has loaded the stream and throws
    /// <see cref="MigrationFailedException"/> (with the peer's reason) when it has not. The migration then fails and the
    /// source runs on, instead of completing with nobody running the guest.
    /// </summary>
    public Func<CancellationToken, Task>? PeerLoaded { get; init; }
}
