namespace VmConsole.Emulation.Freeze;

/// <summary>
/// What holds a VM's migration lease: a migration (outgoing on the source, incoming on the destination).
/// The freeze asks it for its id and state to explain refusals, and asks it to stop on teardown.
/// </summary>
public interface IMigrationLeaseHolder
{
    string MigrationId { get; }

    /// <summary>The migration's state (<see cref="MigrationStatus.Setup"/>, <see cref="MigrationStatus.Active"/>, <see cref="MigrationStatus.Cancelling"/>...).</summary>
    MigrationStatus Status { get; }

    /// <summary>
    /// Asks the migration to stop (asynchronously: it goes to <c>cancelling</c> and releases the lease when its
    /// worker has quit). <paramref name="error"/>, when given, is recorded as the reason, as QEMU's
    /// migration_cancel(err) does for a block resized during precopy.
    /// </summary>
    void RequestCancel(string? error);
}
