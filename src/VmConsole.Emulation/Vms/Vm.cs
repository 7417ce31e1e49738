using System.Collections.Immutable;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Hosts;
using VmConsole.Emulation.Machines;
using VmConsole.Emulation.Workloads;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Vms;

/// <summary>
/// A virtual machine: its run state, its RAM blocks with real memory, its memory devices, its guest
/// workload, and the freeze that keeps its migratable set still while a migration holds the lease.
/// </summary>
/// <remarks>
/// Every change to run state, blocks and devices happens under <see cref="_gate"/>, the same gate the
/// freeze takes its lease under; blocks and devices live in <see cref="VmMemory"/>, which takes it too.
/// Readers use the published snapshots (<see cref="RamBlocks"/>, <see cref="Devices"/>) without locking.
/// Events are raised after the gate is let go.
/// </remarks>
public sealed partial class Vm : IDisposable
{
    public const int MaxSlots = 256;
    public const long MaxMemoryBytes = 1024 * GiB;

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly MigrationFreeze _freeze;
    private readonly GuestWorkload _workload;

    private readonly VmMemory _memory;

    // All below: written under _gate.
    private volatile RunState _runState = RunState.Prelaunch;
    private bool _disposed;

    internal Vm(VmDefinition definition, Host host, TimeProvider time)
    {
        Machine = VmDefinitionValidation.Validate(definition);
        Name = definition.Name;
        Definition = definition with { Host = host.Name, Start = false };
        Host = host;
        MemoryBytes = definition.MemoryBytes;
        Slots = definition.Slots;
        MaxMemBytes = definition.Slots > 0 ? definition.MaxMemBytes : definition.MemoryBytes;
        _time = time;
        _freeze = new MigrationFreeze(_gate, Name, ComputeMigratableSet, () => Raise(VmChangeKind.Freeze));
        _memory = new VmMemory(_gate, this, _freeze, time, EnsureNotDisposed, Raise, Unmapped);

        var firmwareBytes = Machine.Firmware.Sum(f => f.MaxLength);
        host.Reserve(MemoryBytes + firmwareBytes, $"VM '{Name}' ({Format(MemoryBytes)} RAM plus {Format(firmwareBytes)} of firmware)");
        try
        {
            _memory.AddMachineBlocks();
            _workload = new GuestWorkload(MainRamBlocks, time, Name);
            _workload.SetSpec(definition.Workload);
        }
        catch
        {
            foreach (var block in _memory.Blocks)
            {
                block.Memory.Dispose();
            }

            host.Unreserve(MemoryBytes + firmwareBytes);
            throw;
        }
    }

    public event Action<Vm, VmChangeKind>? Changed;

    public string Name { get; }

    /// <summary>Stable identity, the same on both ends of a migration.</summary>
    public Guid Id => Definition.Id;

    /// <summary>What the VM was created from (its machine, memory, slots; the workload it started with).</summary>
    public VmDefinition Definition { get; private set; }

    /// <summary>The host the VM runs on.</summary>
    public Host Host { get; }

    public MachinePreset Machine { get; }

    /// <summary>Size of main RAM (-m).</summary>
    public long MemoryBytes { get; }

    public int Slots { get; }

    public long MaxMemBytes { get; }

    public RunState RunState => _runState;

    /// <summary>The first block of main RAM (pc.ram, microvm.ram, the memory-backend, or NUMA node 0's memdev), which the guest workload writes.</summary>
    public RamBlock MainRam => _memory.MainRam;

    /// <summary>The blocks that hold main RAM, in guest order: one, or one per NUMA node.</summary>
    public ImmutableArray<RamBlock> MainRamBlocks => _memory.MainRamBlocks;

    /// <summary>The blocks in QEMU's order (largest max_length first), as last published.</summary>
    public ImmutableArray<RamBlock> RamBlocks => _memory.RamBlocks;

    public ImmutableArray<MemoryDevice> Devices => _memory.Devices;

    public MigrationFreeze Freeze => _freeze;

    public GuestWorkload Workload => _workload;

    /// <summary>The migratable set now: one identity per migratable block, in block order.</summary>
    public ImmutableArray<MigratableIdentity> MigratableSet
    {
        get
        {
            lock (_gate)
            {
                return ComputeMigratableSet();
            }
        }
    }

    /// <summary>Bytes this VM reserves on its host: the max_length of every block.</summary>
    public long ReservedBytes => RamBlocks.Sum(b => b.MaxLength);

    /// <summary>How long teardown waits for a migration to let go of the block list.</summary>
    public TimeSpan TeardownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The highest block id handed out so far (freed ones included); a new block gets a higher one.</summary>
    public int LastBlockId => _memory.LastBlockId;

    /// <summary>Never hands out an id up to <paramref name="lastBlockId"/> again (restoring a VM whose highest blocks were freed).</summary>
    public void ReserveBlockIdsThrough(int lastBlockId) => _memory.ReserveBlockIdsThrough(lastBlockId);

    public RamBlock GetBlock(int id) =>
        RamBlocks.FirstOrDefault(b => b.Id == id)
        ?? throw DomainException.NotFound(ErrorCodes.BlockNotFound, $"VM '{Name}' has no RAM block with id {id}.");

    /// <summary>The migratable block with this idstr, or null.</summary>
    public RamBlock? FindMigratable(string idStr) => RamBlocks.FirstOrDefault(b => b.Migratable && b.IdStr == idStr);

    /// <param name="sweepPage">For a migration's destination: where the source's sweep was, so the guest carries on.</param>
    public void SetWorkload(WorkloadSpec spec, long? sweepPage = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        lock (_gate)
        {
            EnsureNotDisposed();
            if (sweepPage is { } page)
            {
                _workload.ResumeSweepAt(page);
            }

            _workload.SetSpec(spec);
        }

        Raise(VmChangeKind.Workload);
    }

    // ---- memory operations (VmMemory does them) ---------------------------------------------------

    /// <summary>object-add memory-backend-ram: a block that is neither migratable nor visible to the guest. Allowed during migration.</summary>
    public RamBlock AddMemoryBackend(string backendId, long sizeBytes) => AddMemoryBackend(backendId, sizeBytes, blockId: null);

    /// <summary>
    /// object-add with the block id it had before (restoring a stored VM), so ids stay stable across a restart;
    /// later blocks get ids above it. Refused if another block has that id.
    /// </summary>
    public RamBlock AddMemoryBackend(string backendId, long sizeBytes, int? blockId) => _memory.AddMemoryBackend(backendId, sizeBytes, blockId);

    /// <summary>
    /// Frees a block (object-del of its backend). Refused for the machine's own blocks, for a backend a
    /// device uses (QEMU's "in use"), and for a migratable block while the set is frozen.
    /// </summary>
    public void FreeBlock(int blockId) => _memory.FreeBlock(blockId);

    /// <summary>
    /// device_add pc-dimm,id=ID,memdev=BACKEND: the backend's block gets idstr = backend id, becomes
    /// migratable and guest-visible. Refused while migrating, as QEMU does.
    /// </summary>
    public MemoryDevice PlugDimm(string deviceId, string memdev) => _memory.PlugDimm(deviceId, memdev);

    /// <summary>device_del: the block stops being migratable and visible; its backend stays. Refused while migrating.</summary>
    public void UnplugDimm(string deviceId) => _memory.UnplugDimm(deviceId);

    /// <summary>
    /// qemu_ram_set_migratable / unset: registers a block for migration (an unnamed backend takes its backend
    /// id as idstr) or removes it. Refused while the set is frozen, unless it changes nothing.
    /// </summary>
    public void SetMigratable(int blockId, bool migratable) => _memory.SetMigratable(blockId, migratable);

    /// <summary>Resizes a resizeable block from the console (qemu_ram_resize). Refused while frozen if the block is migratable.</summary>
    public void Resize(int blockId, long usedLength) => _memory.Resize(blockId, usedLength);

    /// <summary>
    /// A resize done by the migration that holds the lease, as QEMU's loader resizes a resizeable block to the
    /// length the stream announces. Refused for anyone else.
    /// </summary>
    public void ResizeUnderLease(MigrationLease lease, int blockId, long usedLength) => _memory.ResizeUnderLease(lease, blockId, usedLength);

    /// <summary>
    /// A resize the guest does (firmware growing ACPI tables on reboot). It cannot be refused: a migration
    /// holding the lease is cancelled with QEMU's error "RAM block '&lt;idstr&gt;' resized during precopy."
    /// </summary>
    public void GuestResize(int blockId, long usedLength) => _memory.GuestResize(blockId, usedLength);

    /// <summary>
    /// Reloads a ROM's contents into fresh backing of the same size. Its identity is unchanged, so this is
    /// allowed during migration (identity is the ABI, not the pointer); the pages are marked dirty.
    /// </summary>
    public void ReloadRom(int blockId) => _memory.ReloadRom(blockId);

    // ---- guest-physical access ------------------------------------------------------------------

    /// <summary>Writes at guest-physical addresses, as the guest (or qtest's write) does. Writes to ROM are discarded, as on hardware.</summary>
    public void WriteGuest(long address, ReadOnlySpan<byte> source) => _memory.Map.Write(address, source);

    public void ReadGuest(long address, Span<byte> destination) => _memory.Map.Read(address, destination);

    /// <summary>The guest-physical regions: RAM, DIMMs and firmware ROMs (ROMs shadow RAM where they overlap).</summary>
    public ImmutableArray<GuestMapping> GuestMappings => _memory.Map.Mappings;

    /// <summary>Turns the pages dirtied since the last sample into per-block rates (pages per second).</summary>
    public void SampleDirtyRate() => _memory.SampleDirtyRate();

    // ---- teardown -------------------------------------------------------------------------------

    /// <summary>Prepares deletion: stops a migration that holds the lease (bounded wait), then refuses new ones.</summary>
    internal async Task QuiesceForDeleteAsync(CancellationToken cancellationToken)
    {
        MigrationLease? lease;
        lock (_gate)
        {
            EnsureNotDisposed();
            lease = _freeze.Close("it is being deleted");
        }

        try
        {
            await StopMigrationAsync(lease, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_gate)
            {
                _freeze.Reopen();
            }

            throw;
        }
    }

    /// <summary>Stops the guest workload and frees every block's memory (after the last reader lets go).</summary>
    public void Dispose()
    {
        _workload.Dispose();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _freeze.Seal("it was deleted");
            foreach (var block in _memory.Blocks)
            {
                block.Memory.Dispose();
            }

            Host.Unreserve(_memory.Blocks.Sum(b => b.MaxLength));
        }
    }

    private async Task StopMigrationAsync(MigrationLease? lease, CancellationToken cancellationToken)
    {
        if (lease is null)
        {
            return;
        }

        lease.Holder.RequestCancel(null);
        try
        {
            await lease.Released.WaitAsync(TeardownTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw DomainException.Conflict(
                ErrorCodes.MigrationDidNotStop,
                $"Migration {lease.Holder.MigrationId} of VM '{Name}' did not stop within {TeardownTimeout.TotalSeconds:0.#} s (it is {lease.Holder.Status.ToQemuName()}); the VM was left as it was.");
        }
    }

    // ---- helpers (callers hold _gate) -----------------------------------------------------------

    private ImmutableArray<MigratableIdentity> ComputeMigratableSet() => _memory.ComputeMigratableSet();

    private DomainException Unmapped(long address) => _disposed
        ? DomainException.NotFound(ErrorCodes.VmNotFound, $"VM '{Name}' was deleted.")
        : DomainException.Invalid(ErrorCodes.UnmappedAddress, $"Guest-physical address 0x{address:x} of VM '{Name}' is not backed by RAM or ROM.");

    private void EnsureNotDisposed()
    {
        if (_disposed)
        {
            throw DomainException.NotFound(ErrorCodes.VmNotFound, $"VM '{Name}' was deleted.");
        }
    }

    private void Raise(VmChangeKind kind)
    {
        Changed?.Invoke(this, kind);
        RaiseStateChanged(kind);
    }
}
