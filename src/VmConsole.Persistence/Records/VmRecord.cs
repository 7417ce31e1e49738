namespace VmConsole.Persistence.Records;

/// <summary>A VM's definition and layout: what it takes to build it again, shut off, after a restart.</summary>
public sealed class VmRecord
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    public required string Host { get; set; }

    public required string Machine { get; set; }

    public long MemoryBytes { get; set; }

    public int Slots { get; set; }

    public long MaxMemBytes { get; set; }

    /// <summary>The backend that holds main RAM (-machine memory-backend=ID); null: the machine's own block.</summary>
    public string? MainRamBackend { get; set; }

    /// <summary>The NUMA nodes and their memdevs; empty: no NUMA.</summary>
    public List<NumaNodeRecord> NumaNodes { get; set; } = [];

    public required string WorkloadKind { get; set; }

    public long PagesPerSecond { get; set; }

    public long WorkingSetBytes { get; set; }

    /// <summary>The run state last seen (informational: after a restart the VM is shut off).</summary>
    public required string RunState { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>The highest block id the VM handed out (freed blocks included), so that ids are never reused after a restart.</summary>
    public int LastBlockId { get; set; }

    public List<RamBlockRecord> Blocks { get; set; } = [];

    public List<DeviceRecord> Devices { get; set; } = [];

    /// <summary>
    /// The VM description's top-level fields but <c>devices</c> (JSON) of the CPU and device state QEMU sent with the VM;
    /// null for a VM without device state (made in the console).
    /// </summary>
    public string? DeviceStateFields { get; set; }

    /// <summary>The device sections of that state, in stream order.</summary>
    public List<DeviceSectionRecord> DeviceSections { get; set; } = [];
}
