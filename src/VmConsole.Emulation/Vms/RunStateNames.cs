namespace VmConsole.Emulation.Vms;

public static class RunStateNames
{
    /// <summary>QEMU's spelling: <c>inmigrate</c>, <c>postmigrate</c>...</summary>
    public static string ToQemuName(this RunState state) => state.ToString().ToLowerInvariant();

    public static string ToQemuName(this PowerAction action) => action.ToString().ToLowerInvariant();
}
