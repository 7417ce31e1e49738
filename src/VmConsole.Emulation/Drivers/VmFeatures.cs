namespace VmConsole.Emulation.Drivers;

/// <summary>
/// What a VM's driver can do beyond the operations every VM has (power, RAM blocks, memory devices): said as data, so
/// that pages and endpoints ask the VM instead of testing which kind it is (STYLE.md, "One face per concept").
/// </summary>
[Flags]
public enum VmFeatures
{
    None = 0,

    /// <summary>A console-made guest workload (idle, uniform, sweep, hotspot) that the console sets.</summary>
    Workload = 1,

    /// <summary>Guest-physical memory read by the memory inspector.</summary>
    ReadGuestMemory = 2,

    /// <summary>Guest-physical memory written by the memory inspector.</summary>
    WriteGuestMemory = 4,

    /// <summary>Export to a QEMU 7.2 migration stream file.</summary>
    Export = 8,

    /// <summary>Set and unset a block's migratable flag, resize a resizeable block (the emulator's model of QEMU's internals).</summary>
    BlockInternals = 16,

    /// <summary>A real process: pid, command line and QEMU version (<see cref="IVirtualMachine.Process"/>).</summary>
    Process = 32,

    /// <summary>Its dirty rate measured by QEMU (<c>calc-dirty-rate</c>) rather than sampled by the console per block.</summary>
    MeasuredDirtyRate = 64,

    /// <summary>
    /// Its migrations can switch to postcopy (QEMU's own; the engine migrates with precopy only). Multifd and XBZRLE are
    /// no feature: every driver's migrations have them (QEMU's, and the engine's as sender and receiver).
    /// </summary>
    Postcopy = 128,
}
