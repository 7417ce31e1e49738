namespace VmConsole.Emulation.Vms;

/// <summary>What changed on a VM, for whoever shows it.</summary>
public enum VmChangeKind
{
    RunState,
    RamBlocks,
    Devices,
    Workload,

    /// <summary>A migration took or released the lease on the block list.</summary>
    Freeze,
}
