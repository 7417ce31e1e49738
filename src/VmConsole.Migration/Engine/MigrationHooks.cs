using VmConsole.Migration.Transports;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>
/// Seams for the engine's own tests: a fault-injecting transport or a tampering destination sink goes where the real
/// one would. Both null (the default) leave the engine as it ships. Set by a test before <see cref="MigrationEngine.Start"/>;
/// each worker reads them once, when it opens its transport.
/// </summary>
internal sealed class MigrationHooks
{
    /// <summary>
    /// Replaces the channel a worker opened, before the first byte. The sender writes the returned channel's
    /// <see cref="MigrationChannel.Output"/>; with a destination host and no URI (the in-process pipe) the destination
    /// reads its <see cref="MigrationChannel.Input"/>. The returned channel owns the one it was given.
    /// </summary>
    public Func<PrecopyMigration, MigrationChannel, MigrationChannel>? WrapChannel { get; set; }

    /// <summary>Replaces what the destination's stream reader feeds; the result forwards to the sink it was given.</summary>
    public Func<PrecopyMigration, IMigrationStreamSink, IMigrationStreamSink>? WrapDestinationSink { get; set; }
}
