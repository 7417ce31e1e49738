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

    /// <summary>
    /// The memory backend that holds main RAM (<c>-machine memory-backend=ID</c>): its block is named ID instead of the
    /// machine's own (pc.ram, microvm.ram). Null: the machine's own.
    /// </summary>
    public string? MainRamBackend { get; init; }

    /// <summary>
    /// NUMA nodes, each with its memdev (<c>-numa node,memdev=ID</c>): one block per memdev and no machine main RAM
    /// block; their sizes add up to <see cref="MemoryBytes"/>. Empty: no NUMA.
    /// </summary>
    public IReadOnlyList<NumaNode> NumaNodes { get; init; } = [];

    public WorkloadSpec Workload { get; init; } = WorkloadSpec.Idle;

    /// <summary>Whether to start the VM once created (otherwise it stays in prelaunch).</summary>
    public bool Start { get; init; }

    /// <summary>What a QEMU VM runs; an emulated VM has a <see cref="Workload"/> instead, and takes only <see cref="GuestProgram.None"/>.</summary>
    public GuestProgram Guest { get; init; }

    /// <summary>The idstrs of the blocks that hold main RAM, in guest order: the NUMA memdevs, or the one main RAM block.</summary>
    public IReadOnlyList<string> MainRamIdStrs(Machines.MachinePreset machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        return NumaNodes.Count > 0 ? [.. NumaNodes.Select(n => n.Memdev)] : [MainRamBackend ?? machine.MainRamIdStr];
    }
}
