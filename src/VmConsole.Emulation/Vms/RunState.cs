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
}
