namespace VmConsole.Emulation.Vms;

/// <summary>A VM's run state, in QEMU's words (query-status).</summary>
public enum RunState
{
    Prelaunch,
    Running,
    Paused,
    InMigrate,
    PostMigrate,
    Shutdown,

    /// <summary>
    /// A migration has stopped the guest to finish (QEMU's <c>finish-migrate</c>): from <c>pre-switchover</c> through
    /// <c>device</c>. It ends in <c>postmigrate</c> when the migration completes, or back where it was when it does not.
    /// </summary>
    FinishMigrate,
}
