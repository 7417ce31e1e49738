namespace VmConsole.Emulation.Drivers;

/// <summary>
/// What runs a host's VMs, as a libvirt connection has a driver (DESIGN.md section 9): the in-process emulator, or real
/// <c>qemu-system-x86_64</c> processes driven over QMP.
/// </summary>
public enum DriverKind
{
    Emulator,
    Qemu,
}

/// <summary>The API's and the UI's spelling of a driver: <c>emulator</c>, <c>qemu</c>.</summary>
public static class DriverKindNames
{
    public static string ToApiName(this DriverKind kind) => kind == DriverKind.Qemu ? "qemu" : "emulator";
}
