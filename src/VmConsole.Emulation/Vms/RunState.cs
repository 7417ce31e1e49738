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

/// <summary>What a person can ask of a VM's power.</summary>
public enum PowerAction
{
    Start,
    Pause,
    Resume,
    Shutdown,
    Reset,
}

public static class RunStateNames
{
    /// <summary>QEMU's spelling: <c>inmigrate</c>, <c>postmigrate</c>...</summary>
    public static string ToQemuName(this RunState state) => state.ToString().ToLowerInvariant();

    public static string ToQemuName(this PowerAction action) => action.ToString().ToLowerInvariant();
}
