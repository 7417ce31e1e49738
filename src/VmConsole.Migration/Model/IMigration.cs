using System.Collections.Immutable;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Model;

/// <summary>
/// One migration of one VM, whatever moves it: the engine's precopy to a host of this console or an external peer,
/// a migration received from a real QEMU, or (a QEMU host's) a QEMU-to-QEMU migration driven over QMP. Whoever shows,
/// records, cancels or continues a migration uses this face only and never asks which kind it holds; what a kind
/// cannot do it says as data (<see cref="Direction"/>, <see cref="Capabilities"/>, a refusal from
/// <see cref="ContinueAsync"/>), not through its type. Thread-safe; events are raised on the thread that made the
/// change.
/// </summary>
public interface IMigration
{
    string Id { get; }

    /// <summary>The VM that moves (for a received migration, the VM it creates).</summary>
    string VmName { get; }

    /// <summary>Whether the VM leaves this console's host or arrives on it from outside.</summary>
    MigrationDirection Direction { get; }

    /// <summary>The host the VM leaves (<see cref="MigrationPeers.Qemu"/> for a VM coming from a QEMU outside the console).</summary>
    string SourceHost { get; }

    /// <summary>The host of this console that receives the VM, or null for an external peer (a file, QEMU).</summary>
    string? DestinationHost { get; }

    /// <summary>The transport (<c>unix:</c>, <c>tcp:</c>, <c>file:</c>), or null for an in-process pipe to the destination host.</summary>
    string? Uri { get; }

    MigrationParameters Parameters { get; }

    MigrationCapabilities Capabilities { get; }

    MigrationStatus Status { get; }

    /// <summary>Every state change that happened, in order, starting with <c>setup</c>.</summary>
    ImmutableList<MigrationEvent> Events { get; }

    /// <summary>Every CPU throttle auto-converge applied, in order (empty where the migration does not throttle).</summary>
    ImmutableList<int> ThrottleSteps { get; }

    /// <summary>Whether the destination's migratable memory matched the source's at switchover; null when it could not be compared.</summary>
    bool? Verified { get; }

    /// <summary>Completes when the migration is completed, cancelled or failed and holds nothing any more.</summary>
    Task Finished { get; }

    /// <summary>A state change, once per change, in the order of <see cref="Events"/>.</summary>
    event Action<IMigration, MigrationStatus>? StatusChanged;

    /// <summary>The numbers moved: at most ten times a second.</summary>
    event Action<IMigration>? Progress;

    /// <summary>query-migrate: the numbers now.</summary>
    MigrationStats GetStats();

    /// <summary>Per-block progress now, one entry per block the stream announced, in stream order (empty when not known).</summary>
    IReadOnlyList<BlockProgress> GetBlockProgress();

    /// <summary>migrate_cancel: asynchronous and idempotent; does nothing once the migration has ended or passed its point of no return.</summary>
    void Cancel();

    /// <summary>
    /// migrate-continue from <c>pre-switchover</c>, completing once the migration has left that state.
    /// </summary>
    /// <exception cref="DomainException">409 <c>not-pre-switchover</c> when the migration is not waiting there.</exception>
    Task ContinueAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// migrate-start-postcopy: the destination runs the guest from now on and pulls the pages still missing. Refused
    /// (409 <c>postcopy-not-enabled</c>) by a migration started without <c>postcopy-ram</c> and by every kind that cannot
    /// do it, and (409 <c>migration-not-active</c>) outside <c>active</c>.
    /// </summary>
    Task StartPostcopyAsync(CancellationToken cancellationToken = default);
}
