namespace VmConsole.Emulation.Vms;

public static class RunStateNames
{
    /// <summary>QEMU's spelling: <c>inmigrate</c>, <c>postmigrate</c>, <c>finish-migrate</c>...</summary>
    public static string ToQemuName(this RunState state) => state switch
    {
        RunState.FinishMigrate => "finish-migrate",
        _ => state.ToString().ToLowerInvariant(),
    };

    public static string ToQemuName(this PowerAction action) => action.ToString().ToLowerInvariant();
}
