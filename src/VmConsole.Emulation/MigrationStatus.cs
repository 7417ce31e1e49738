namespace VmConsole.Emulation;

/// <summary>
/// QEMU's MigrationStatus (qapi/migration.json). Here, beside the VMs, because a migration's lease on a VM reports it
/// (<see cref="Freeze.IMigrationLeaseHolder.Status"/>); the migration engine drives it.
/// </summary>
public enum MigrationStatus
{
    None,
    Setup,
    Active,
    PreSwitchover,
    Device,
    PostcopyActive,
    PostcopyPaused,
    PostcopyRecover,
    Completed,
    Cancelling,
    Cancelled,
    Failing,
    Failed,
}
