using VmConsole.Emulation.Vms;

namespace VmConsole.Emulation.Drivers;

/// <summary>
/// A VM of any driver, as the console's pages, API and hub see it (libvirt's <c>virDomain</c>): identity, placement,
/// run state, size, and the operations every VM has. What only some drivers can do is in <see cref="Features"/>.
/// </summary>
public interface IVirtualMachine
{
    /// <summary>Raised after any change a viewer shows: run state, blocks, devices, workload, freeze.</summary>
    event Action<IVirtualMachine, VmChangeKind>? StateChanged;

    Guid Id { get; }

    string Name { get; }

    string HostName { get; }

    DriverKind Driver { get; }

    /// <summary>The QEMU machine type: pc, q35 or microvm.</summary>
    string Machine { get; }

    RunState RunState { get; }

    /// <summary>Why it is in its state when the driver knows more than the state says (e.g. how a QEMU process ended).</summary>
    string? StateReason { get; }

    long MemoryBytes { get; }

    int Slots { get; }

    long MaxMemBytes { get; }

    /// <summary>The memory backend holding main RAM (<c>-machine memory-backend=ID</c>), or null for the machine's own block or NUMA nodes.</summary>
    string? MainRamBackend { get; }

    /// <summary>The NUMA nodes and their memdevs, in the guest's order (<c>-numa node,memdev=</c>); empty without NUMA.</summary>
    IReadOnlyList<NumaNode> NumaNodes { get; }

    VmFeatures Features { get; }

    /// <summary>What it runs as its guest: a QEMU VM's program; an emulated VM has a workload instead (<see cref="GuestProgram.None"/>).</summary>
    GuestProgram Guest { get; }

    /// <summary>What changes its memory, in a few words: its workload, or its guest program.</summary>
    string Activity { get; }

    /// <summary>Guest pages dirtied per second: sampled per block (emulated), or QEMU's last measurement; null when not known yet.</summary>
    double? DirtyPagesPerSecond { get; }

    /// <summary>The process behind it, when it has one and it runs.</summary>
    VmProcessInfo? Process { get; }

    /// <summary>Whether a migration holds its migratable set (DESIGN.md section 3).</summary>
    bool Frozen { get; }

    /// <summary>start, pause, resume, shutdown or reset; refused with a domain error when the state does not allow it.</summary>
    Task PowerAsync(PowerAction action, CancellationToken cancellationToken = default);

    /// <summary>The RAM block table as the driver reports it now.</summary>
    Task<IReadOnlyList<RamBlockRow>> GetRamBlocksAsync(CancellationToken cancellationToken = default);

    /// <summary>The memory devices (pc-dimms) as the driver reports them now.</summary>
    Task<IReadOnlyList<MemoryDeviceRow>> GetDevicesAsync(CancellationToken cancellationToken = default);

    /// <summary>Adds a memory-backend-ram (<c>object-add</c>): its block exists, unnamed and not migratable, until plugged.</summary>
    Task<RamBlockRow> AddBackendAsync(string backendId, long sizeBytes, CancellationToken cancellationToken = default);

    /// <summary>Removes a block's backend (<c>object-del</c>); refused while a device uses it.</summary>
    Task RemoveBlockAsync(int blockId, CancellationToken cancellationToken = default);

    /// <summary>Plugs a backend as a pc-dimm (<c>device_add</c>).</summary>
    Task<MemoryDeviceRow> PlugDimmAsync(string deviceId, string memdev, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads <paramref name="length"/> bytes of guest-physical memory at <paramref name="address"/>, as the guest sees
    /// them now (the emulator's address map; QEMU's <c>pmemsave</c>). Only with <see cref="VmFeatures.ReadGuestMemory"/>.
    /// </summary>
    Task<byte[]> ReadGuestPhysicalAsync(long address, int length, CancellationToken cancellationToken = default);

    /// <summary>Unplugs a pc-dimm (<c>device_del</c>): for a real guest only a request the guest must answer.</summary>
    Task UnplugDimmAsync(string deviceId, CancellationToken cancellationToken = default);
}
