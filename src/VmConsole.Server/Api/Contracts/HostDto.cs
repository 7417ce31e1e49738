namespace VmConsole.Server.Api;

/// <param name="Driver"><c>emulator</c> or <c>qemu</c>.</param>
/// <param name="UnavailableReason">Null when the host can run VMs; otherwise why not (e.g. QEMU is not installed).</param>
public sealed record HostDto(string Name, long MemoryBytes, long ReservedBytes, long FreeBytes, int VmCount, string Driver = "emulator", string? UnavailableReason = null);
