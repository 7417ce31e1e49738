using VmConsole.Emulation.Workloads;

namespace VmConsole.Emulation.Vms;

/// <summary>What a VM is made from: like a QEMU command line (-M, -m size,slots=,maxmem=).</summary>
public sealed record VmDefinition(string Name, string Host, string Machine, long MemoryBytes)
{
    /// <summary>The VM's identity, kept when it migrates (the destination is built from the same definition).</summary>
    public Guid Id { get; init; } = Guid.NewGuid();

    /// <summary>Memory slots for pc-dimm devices (-m slots=).</summary>
    public int Slots { get; init; }

    /// <summary>Most memory the VM may have with all its DIMMs (-m maxmem=); 0 when it has no slots.</summary>
    public long MaxMemBytes { get; init; }

    public WorkloadSpec Workload { get; init; } = WorkloadSpec.Idle;

    /// <summary>Whether to start the VM once created (otherwise it stays in prelaunch).</summary>
    public bool Start { get; init; }
}

/// <summary>A memory device plugged into a VM (device_add pc-dimm,id=ID,memdev=BACKEND).</summary>
public sealed record MemoryDevice(string Id, string Driver, string Memdev, int Slot, long Address, long Size);

/// <summary>
/// Device state a QEMU stream carried that VmConsole does not model (a QEMU_VM_SECTION_FULL other than RAM): kept
/// on the VM it was imported into, to be shown, not loaded.
/// </summary>
public sealed record NotImportedDeviceSection(string Name, uint InstanceId, uint VersionId, long Bytes);

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
