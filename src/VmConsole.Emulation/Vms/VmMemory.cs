using System.Collections.Immutable;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Hosts;
using VmConsole.Emulation.Machines;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Vms;

/// <summary>
/// A VM's memory: its RAM blocks in QEMU's order, its memory devices, its guest address map, and the memory
/// operations (object-add/del, device_add/del of pc-dimm, set migratable, resize, ROM reload) that change them.
/// </summary>
/// <remarks>
/// Every change happens under the VM's gate (the one its freeze takes the lease under); the operations take it
/// themselves and raise the VM's event after letting go of it, as <see cref="Vm"/> does. Readers use the published snapshots
/// (<see cref="RamBlocks"/>, <see cref="Devices"/>, <see cref="Map"/>) without locking.
/// </remarks>
internal sealed partial class VmMemory
{
    private const string AcpiTablesIdStr = "/rom@etc/acpi/tables";

    private readonly Lock _gate;
    private readonly string _vmName;
    private readonly Host _host;
    private readonly MachinePreset _machine;
    private readonly long _memoryBytes;
    private readonly VmDefinition _definition;
    private readonly MigrationFreeze _freeze;
    private readonly Action _ensureNotDisposed;
    private readonly Action<VmChangeKind> _raise;
    private readonly TimeProvider _time;
    private readonly DimmSlots _dimms;

    // All below: written under _gate. The views are single-reference structs, read without the gate.
    private readonly List<RamBlock> _blocks = [];
    private ImmutableArray<RamBlock> _blockView = [];
    private ImmutableArray<MemoryDevice> _deviceView = [];
    private int _nextBlockId;
    private long _rateSampledAt;

    public VmMemory(Lock gate, Vm vm, MigrationFreeze freeze, TimeProvider time, Action ensureNotDisposed, Action<VmChangeKind> raise, Func<long, DomainException> unmapped)
    {
        _gate = gate;
        _vmName = vm.Name;
        _host = vm.Host;
        _machine = vm.Machine;
        _memoryBytes = vm.MemoryBytes;
        _definition = vm.Definition;
        _freeze = freeze;
        _ensureNotDisposed = ensureNotDisposed;
        _raise = raise;
        _time = time;
        _rateSampledAt = time.GetTimestamp();
        _dimms = new DimmSlots(vm.Name, vm.Machine, vm.MemoryBytes, vm.Slots, vm.MaxMemBytes);
        Map = new GuestAddressMap(unmapped);
    }

    /// <summary>The first block of main RAM (pc.ram, microvm.ram, the memory-backend, or NUMA node 0's memdev).</summary>
    public RamBlock MainRam => MainRamBlocks[0];

    /// <summary>The blocks that hold main RAM in guest order: one, or one per NUMA node. Set once at creation.</summary>
    public ImmutableArray<RamBlock> MainRamBlocks { get; private set; } = [];

    /// <summary>The blocks in QEMU's order (largest max_length first), as last published.</summary>
    public ImmutableArray<RamBlock> RamBlocks => _blockView;

    public ImmutableArray<MemoryDevice> Devices => _deviceView;

    public GuestAddressMap Map { get; }

    /// <summary>The block list itself, for the VM's power and teardown; only under the gate.</summary>
    public List<RamBlock> Blocks => _blocks;

    /// <summary>The highest block id handed out so far (freed ones included); a new block gets a higher one.</summary>
    public int LastBlockId
    {
        get
        {
            lock (_gate)
            {
                return _nextBlockId;
            }
        }
    }

    /// <summary>Never hands out an id up to <paramref name="lastBlockId"/> again (restoring a VM whose highest blocks were freed).</summary>
    public void ReserveBlockIdsThrough(int lastBlockId)
    {
        lock (_gate)
        {
            _nextBlockId = Math.Max(_nextBlockId, lastBlockId);
        }
    }

    /// <summary>
    /// Adds main RAM as the definition lays it out (the machine's block, a memory-backend, or one block per NUMA memdev,
    /// as QEMU 7.2 names them) and the machine's firmware ROMs (loaded), and publishes them.
    /// </summary>
    public void AddMachineBlocks()
    {
        lock (_gate)
        {
            var sizes = _definition.NumaNodes.Count > 0 ? _definition.NumaNodes.Select(n => n.SizeBytes).ToList() : [_memoryBytes];
            var idStrs = _definition.MainRamIdStrs(_machine);
            var main = ImmutableArray.CreateBuilder<RamBlock>(idStrs.Count);
            for (var i = 0; i < idStrs.Count; i++)
            {
                main.Add(AddBlock(idStrs[i], null, sizes[i], sizes[i], RamBlockFlags.Migratable, guestAddress: null));
            }

            MainRamBlocks = main.MoveToImmutable();
            PlaceMainRam();
            foreach (var firmware in _machine.Firmware)
            {
                var block = AddBlock(firmware.IdStr, null, firmware.UsedLength, firmware.MaxLength, firmware.Flags, firmware.GuestAddress?.Invoke(firmware.UsedLength));
                LoadFirmware(block);
            }

            Publish();
        }
    }

    /// <summary>
    /// Loads a firmware block's stand-in image; a NUMA VM's ACPI tables also get the SRAT that says its nodes' order.
    /// </summary>
    public void LoadFirmware(RamBlock block, Memory.GuestMemory? memory = null)
    {
        FirmwareImage.Load(block, memory);
        if (block.IdStr == AcpiTablesIdStr && _definition.NumaNodes.Count > 1)
        {
            using var access = (memory ?? block.Memory).Acquire();
            AcpiSrat.Write(access.Span(0, (int)Math.Min(block.UsedLength, int.MaxValue)), _machine, [.. MainRamBlocks.Select(b => b.UsedLength)]);
        }
    }

    /// <summary>Puts main RAM's blocks in the order of <paramref name="idStrs"/> (caller holds the gate, the VM is in inmigrate).</summary>
    public void OrderMainRam(IReadOnlyList<string> idStrs)
    {
        MainRamBlocks = [.. idStrs.Select(id => MainRamBlocks.First(b => b.IdStr == id))];
        PlaceMainRam();
        Publish();
    }

    /// <summary>Gives main RAM's blocks their guest addresses: end to end, split around the 4 GiB hole.</summary>
    private void PlaceMainRam()
    {
        var below = _machine.BelowFourGiB(_memoryBytes);
        var ramOffset = 0L;
        foreach (var block in MainRamBlocks)
        {
            block.GuestAddress = ramOffset < below ? ramOffset : (4 * GiB) + ramOffset - below;
            ramOffset += block.UsedLength;
        }
    }

    /// <inheritdoc cref="Vm.AddMemoryBackend(string, long, int?)"/>
    public RamBlock AddMemoryBackend(string backendId, long sizeBytes, int? blockId)
    {
        Names.ValidateQemuId(backendId, "memory backend");
        if (sizeBytes <= 0 || sizeBytes % RamBlockRules.MinPageSize != 0 || sizeBytes > Vm.MaxMemoryBytes)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidSize, $"A memory backend's size must be a positive multiple of 4 KiB up to {Format(Vm.MaxMemoryBytes)}; got {sizeBytes} bytes.");
        }

        RamBlock block;
        lock (_gate)
        {
            EnsureNotDisposed();
            if (_blocks.Any(b => b.BackendId == backendId) || MainRamBlocks.Any(b => b.IdStr == backendId))
            {
                throw DomainException.Conflict(ErrorCodes.BackendExists, $"VM '{_vmName}' already has a memory backend '{backendId}'.");
            }

            if (blockId is { } wanted && (wanted <= 0 || _blocks.Any(b => b.Id == wanted)))
            {
                throw DomainException.Conflict(ErrorCodes.BlockIdTaken, $"VM '{_vmName}' cannot give block id {wanted} to backend '{backendId}': it is not positive or already in use.");
            }

            _host.Reserve(sizeBytes, $"Memory backend '{backendId}'");
            try
            {
                block = AddBlock("", backendId, sizeBytes, sizeBytes, RamBlockFlags.None, guestAddress: null, blockId);
            }
            catch
            {
                _host.Unreserve(sizeBytes);
                throw;
            }

            Publish();
        }

        _raise(VmChangeKind.RamBlocks);
        return block;
    }

    /// <inheritdoc cref="Vm.FreeBlock"/>
    public void FreeBlock(int blockId)
    {
        lock (_gate)
        {
            EnsureNotDisposed();
            var block = Get(blockId);
            if (block.BackendId is null)
            {
                throw DomainException.Conflict(ErrorCodes.MachineBlock, $"RAM block '{block.DisplayName}' belongs to the {_machine.Name} machine and cannot be freed.");
            }

            if (_dimms.Uses(block.BackendId))
            {
                throw DomainException.Conflict(ErrorCodes.BackendInUse, $"object '{block.BackendId}' is in use, can not be deleted");
            }

            _freeze.Check("free", block, block.Identity, null);
            _blocks.Remove(block);
            Publish();
            block.Memory.Dispose();
            _host.Unreserve(block.MaxLength);
        }

        _raise(VmChangeKind.RamBlocks);
    }

    /// <inheritdoc cref="Vm.PlugDimm"/>
    public MemoryDevice PlugDimm(string deviceId, string memdev)
    {
        Names.ValidateQemuId(deviceId, "device");
        MemoryDevice device;
        lock (_gate)
        {
            EnsureNotDisposed();
            _dimms.CheckCanPlug(deviceId);
            var block = _blocks.FirstOrDefault(b => b.BackendId == memdev)
                ?? throw DomainException.NotFound(ErrorCodes.BackendNotFound, $"VM '{_vmName}' has no memory backend '{Names.Shorten(memdev)}'.");
            var (slot, address) = _dimms.Place(memdev, block.UsedLength);
            var idStr = block.IdStr.Length > 0 ? block.IdStr : memdev;
            EnsureUniqueIdStr(idStr, block);
            _freeze.CheckNotMigrating("plug a memory device onto", block.DisplayName);

            device = new MemoryDevice(deviceId, "pc-dimm", memdev, slot, address, block.UsedLength);
            block.IdStr = idStr;
            block.Flags |= RamBlockFlags.Migratable;
            block.GuestAddress = address;
            _dimms.Add(device);
            Publish();
        }

        _raise(VmChangeKind.Devices);
        return device;
    }

    /// <inheritdoc cref="Vm.UnplugDimm"/>
    public void UnplugDimm(string deviceId)
    {
        lock (_gate)
        {
            EnsureNotDisposed();
            var device = _dimms.Get(deviceId);
            var block = _blocks.First(b => b.BackendId == device.Memdev);
            _freeze.CheckNotMigrating("unplug the memory device of", block.DisplayName);
            _dimms.Remove(device);
            block.Flags &= ~RamBlockFlags.Migratable;
            block.IdStr = "";
            block.GuestAddress = null;
            Publish();
        }

        _raise(VmChangeKind.Devices);
    }

    /// <inheritdoc cref="Vm.SetMigratable"/>
    public void SetMigratable(int blockId, bool migratable)
    {
        lock (_gate)
        {
            EnsureNotDisposed();
            var block = Get(blockId);
            var idStr = block.IdStr.Length > 0 ? block.IdStr : block.BackendId ?? "";
            MigratableIdentity? after = null;
            if (migratable)
            {
                RamBlockRules.ValidateIdStr(idStr);
                EnsureUniqueIdStr(idStr, block);
                after = new MigratableIdentity(idStr, block.PageSize, block.UsedLength, block.Shared ? block.GuestAddress : null);
            }

            _freeze.Check(migratable ? "set migratable on" : "unset migratable on", block, block.Identity, after);
            if (migratable)
            {
                block.IdStr = idStr;
                block.Flags |= RamBlockFlags.Migratable;
            }
            else
            {
                block.Flags &= ~RamBlockFlags.Migratable;
            }

            Publish();
        }

        _raise(VmChangeKind.RamBlocks);
    }

    /// <inheritdoc cref="Vm.ReloadRom"/>
    public void ReloadRom(int blockId)
    {
        lock (_gate)
        {
            EnsureNotDisposed();
            var block = Get(blockId);
            if (!block.ReadOnly)
            {
                throw DomainException.Conflict(ErrorCodes.NotRom, $"RAM block '{block.DisplayName}' is not a ROM; only ROM contents can be reloaded.");
            }

            // No freeze check: the block keeps its (idstr, page_size, used_length), only its backing changes.
            // The new backing is filled before it is published, so no reader ever sees it empty.
            var old = block.Memory;
            var fresh = new Memory.GuestMemory(block.MaxLength);
            LoadFirmware(block, fresh);
            block.Memory = fresh;
            block.MarkDirty(0, block.UsedLength);
            old.Dispose();
        }

        _raise(VmChangeKind.RamBlocks);
    }

    /// <summary>Turns the pages dirtied since the last sample into per-block rates (pages per second).</summary>
    public void SampleDirtyRate()
    {
        var now = _time.GetTimestamp();
        var seconds = _time.GetElapsedTime(Interlocked.Exchange(ref _rateSampledAt, now), now).TotalSeconds;
        foreach (var block in RamBlocks)
        {
            var pages = block.RateLog.SyncAndCount();
            block.DirtyPagesPerSecond = seconds > 0 ? pages / seconds : 0;
        }
    }

    /// <summary>The migratable set now (caller holds the gate): one identity per migratable block, in block order.</summary>
    public ImmutableArray<MigratableIdentity> ComputeMigratableSet() =>
        [.. _blocks.Select(b => b.Identity).OfType<MigratableIdentity>()];

    /// <summary>The block with this id (caller holds the gate).</summary>
    private RamBlock Get(int blockId) =>
        _blocks.FirstOrDefault(b => b.Id == blockId)
        ?? throw DomainException.NotFound(ErrorCodes.BlockNotFound, $"VM '{_vmName}' has no RAM block with id {blockId}.");

    private RamBlock AddBlock(string idStr, string? backendId, long usedLength, long maxLength, RamBlockFlags flags, long? guestAddress, int? id = null)
    {
        if (idStr.Length > 0 && flags.HasFlag(RamBlockFlags.Migratable))
        {
            EnsureUniqueIdStr(idStr, null);
        }

        var offset = RamAddressAllocator.FindOffset([.. _blocks.Select(b => (b.Offset, b.MaxLength))], maxLength);
        _nextBlockId = id is { } given ? Math.Max(_nextBlockId, given) : _nextBlockId + 1;
        var block = new RamBlock(id ?? _nextBlockId, idStr, backendId, offset, RamBlockRules.MinPageSize, usedLength, maxLength, flags)
        {
            GuestAddress = guestAddress,
        };

        // QEMU keeps its list sorted from the biggest block to the smallest; equal sizes keep creation order.
        var index = _blocks.FindIndex(b => b.MaxLength < maxLength);
        _blocks.Insert(index < 0 ? _blocks.Count : index, block);
        return block;
    }

    private void EnsureUniqueIdStr(string idStr, RamBlock? except)
    {
        if (_blocks.Any(b => b != except && b.Migratable && b.IdStr == idStr))
        {
            throw DomainException.Conflict(ErrorCodes.DuplicateIdstr, $"VM '{_vmName}' already has a migratable RAM block named '{idStr}'; idstr must be unique among migratable blocks.");
        }
    }

    private void Publish()
    {
        Map.Rebuild(_machine, _memoryBytes, MainRamBlocks, _blocks);
        _blockView = [.. _blocks];
        _deviceView = [.. _dimms.BySlot];
    }

    private void EnsureNotDisposed() => _ensureNotDisposed();
}
