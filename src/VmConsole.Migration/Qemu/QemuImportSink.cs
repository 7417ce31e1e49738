using System.Buffers;
using VmConsole.Emulation;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// Builds a VM from a QEMU stream as it is read: the machine from the configuration section, then at the RAM
/// setup a VM (not yet in the inventory) with the stream's main RAM size, its firmware blocks resized to the
/// stream's lengths, and every other block taken as a pc-dimm backend; then the pages into guest memory.
/// </summary>
/// <remarks>Called by one reading task only; the counters are read by others with Volatile.</remarks>
internal sealed class QemuImportSink(Emulator emulator, string name, string host, ArrivingVm? arriving = null) : IMigrationStreamSink, IDisposable
{
    private GuestPageLoader? _pages;
    private long _normalPages;
    private long _zeroPages;
    private long _total;

    public Emulation.Machines.MachinePreset? Machine { get; private set; }

    public string? MachineType { get; private set; }

    /// <summary>The VM being built, once the RAM setup was read; discarded by the caller on failure.</summary>
    public Vm? Vm { get; private set; }

    public IReadOnlyList<RamBlockHeader> Blocks { get; private set; } = [];

    public bool ReachedEof { get; private set; }

    public long NormalPages => Volatile.Read(ref _normalPages);

    public long ZeroPages => Volatile.Read(ref _zeroPages);

    /// <summary>Bytes of RAM the setup announced (0 until then).</summary>
    public long Total => Volatile.Read(ref _total);

    public void OnConfiguration(string machineType)
    {
        Machine = QemuMachineTypes.FindPreset(machineType) ?? throw QemuMachineTypes.Refuse(machineType);
        MachineType = machineType;
    }

    public void OnRamBlocks(IReadOnlyList<RamBlockHeader> blocks)
    {
        var machine = Machine!;
        var main = blocks.FirstOrDefault(b => b.IdStr == machine.MainRamIdStr);
        if (main.IdStr is null)
        {
            throw new MigrationStreamException($"The stream has no '{machine.MainRamIdStr}' block, the main RAM of a {machine.Name} machine");
        }

        var dimms = new List<RamBlockHeader>();
        foreach (var block in blocks)
        {
            if (block.IdStr == machine.MainRamIdStr)
            {
                continue;
            }

            if (machine.Firmware.FirstOrDefault(f => f.IdStr == block.IdStr) is { } firmware)
            {
                CheckLength(block, firmware.UsedLength, firmware.MaxLength, firmware.Flags.HasFlag(RamBlockFlags.Resizeable));
            }
            else if (machine.SupportsMemoryHotplug && IsBackendId(block.IdStr))
            {
                dimms.Add(block);
            }
            else
            {
                throw new MigrationStreamException($"Unknown ramblock \"{block.IdStr}\", cannot accept migration");
            }
        }

        var definition = new VmDefinition(name, host, machine.Name, main.UsedLength)
        {
            Id = arriving?.Id ?? Guid.NewGuid(),
            Slots = dimms.Count,
            MaxMemBytes = dimms.Count == 0 ? 0 : main.UsedLength + dimms.Sum(d => d.UsedLength),
        };
        var vm = emulator.CreateIncomingVm(definition);
        Vm = vm;
        vm.TryChangeRunState(RunState.Prelaunch, RunState.InMigrate);
        foreach (var dimm in dimms)
        {
            vm.AddMemoryBackend(dimm.IdStr, dimm.UsedLength);
            vm.PlugDimm("dimm-" + dimm.IdStr, dimm.IdStr);
        }

        var found = new RamBlock[blocks.Count];
        for (var i = 0; i < blocks.Count; i++)
        {
            var block = vm.FindMigratable(blocks[i].IdStr)
                ?? throw new MigrationStreamException($"Unknown ramblock \"{blocks[i].IdStr}\", cannot accept migration");
            if (block.UsedLength != blocks[i].UsedLength)
            {
                vm.Resize(block.Id, blocks[i].UsedLength);
            }

            found[i] = block;
        }

        Blocks = blocks;
        _pages = new GuestPageLoader(found);
        Volatile.Write(ref _total, blocks.Sum(b => b.UsedLength));
        if (arriving is not null)
        {
            emulator.AttachReceived(arriving, vm);
        }
    }

    public void OnZeroPage(int block, long offset, byte fill)
    {
        _pages!.OnZeroPage(block, offset, fill);
        Interlocked.Increment(ref _zeroPages);
    }

    public void OnPage(int block, long offset, ReadOnlySequence<byte> data)
    {
        _pages!.OnPage(block, offset, data);
        Interlocked.Increment(ref _normalPages);
    }

    public void OnRamSectionDone(bool end) => _pages?.Flush();

    public void OnVmConsoleState(ReadOnlySequence<byte> payload)
    {
        // A VmConsole peer's own section: the import takes RAM only (the VM starts with an idle workload).
    }

    public void OnEof()
    {
        _pages?.Flush();
        ReachedEof = true;
    }

    public void OnVmDescription(string json)
    {
    }

    public void Dispose()
    {
        _pages?.Dispose();
        _pages = null;
    }

    /// <summary>A memory backend's id (object-add id=...), which becomes the idstr of the block a pc-dimm plugs.</summary>
    private static bool IsBackendId(string idStr) => Names.IsValidQemuId(idStr);

    /// <summary>QEMU's ram_load checks for a block of the destination's machine.</summary>
    private static void CheckLength(RamBlockHeader block, long usedLength, long maxLength, bool resizeable)
    {
        if (block.UsedLength == usedLength)
        {
            return;
        }

        if (!resizeable)
        {
            throw new MigrationStreamException($"Size mismatch: {block.IdStr}: 0x{block.UsedLength:x} != 0x{usedLength:x}: Invalid argument");
        }

        if (block.UsedLength > maxLength)
        {
            throw new MigrationStreamException($"Size too large: {block.IdStr}: 0x{block.UsedLength:x} > 0x{maxLength:x}: Invalid argument");
        }
    }
}
