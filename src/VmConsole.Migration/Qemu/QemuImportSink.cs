using System.Buffers;
using VmConsole.Emulation;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// Builds a VM from a QEMU stream as it is read: the machine from the configuration section, then at the RAM
/// setup a VM (not yet in the inventory) with the layout the stream's block list describes (<see cref="QemuStreamLayout"/>:
/// main RAM under its idstr or NUMA memdevs, pc-dimm backends, firmware blocks resized to the stream's lengths); then
/// the pages into guest memory.
/// </summary>
/// <remarks>Called by one reading task only; the counters are read by others with Volatile.</remarks>
internal sealed class QemuImportSink(Emulator emulator, string name, string host, ArrivingVm? arriving = null) : IMigrationStreamSink, IMultifdPageSink, IDisposable
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
        var layout = QemuStreamLayout.Read(machine, blocks);
        var definition = layout.ToDefinition(machine, name, host, arriving?.Id ?? Guid.NewGuid());
        var vm = emulator.CreateIncomingVm(definition);
        Vm = vm;
        vm.TryChangeRunState(RunState.Prelaunch, RunState.InMigrate);
        foreach (var dimm in layout.Dimms)
        {
            vm.AddMemoryBackend(dimm.IdStr, dimm.UsedLength);
            vm.PlugDimm("dimm-" + dimm.IdStr, dimm.IdStr);
        }

        var found = new RamBlock[blocks.Count];
        for (var i = 0; i < blocks.Count; i++)
        {
            var block = vm.FindMigratable(blocks[i].IdStr)
                ?? throw QemuStreamLayout.Unknown(blocks[i]);
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

    /// <summary>The page as received so far, for an XBZRLE delta.</summary>
    public void ReadPage(int block, long offset, Span<byte> page) => _pages!.ReadPage(block, offset, page);

    /// <summary>A page from a multifd channel, written from the channel's thread.</summary>
    public Span<byte> MultifdPage(int block, long offset)
    {
        Interlocked.Increment(ref _normalPages);
        return _pages!.MultifdPage(block, offset);
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
        OrderNumaNodes();
    }

    public void OnVmDescription(string json)
    {
    }

    /// <summary>NUMA nodes of different sizes: their guest order is the SRAT's, not the stream's (largest first).</summary>
    private void OrderNumaNodes()
    {
        if (Vm is not { } vm || vm.Definition.NumaNodes is not { Count: > 1 } nodes || nodes.DistinctBy(n => n.SizeBytes).Count() == 1
            || vm.FindMigratable("/rom@etc/acpi/tables") is not { } tables)
        {
            return;
        }

        var bytes = new byte[tables.UsedLength];
        tables.Read(0, bytes);
        if (AcpiNumaOrder.Read(bytes, [.. nodes.Select(n => (n.Memdev, n.SizeBytes))]) is { } order && !order.SequenceEqual(nodes.Select(n => n.Memdev)))
        {
            vm.SetNumaNodeOrder(order);
        }
    }

    public void Dispose()
    {
        _pages?.Dispose();
        _pages = null;
    }
}
