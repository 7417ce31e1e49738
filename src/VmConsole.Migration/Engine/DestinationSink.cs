using System.Buffers;
using System.Text.Json;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>The run state and workload a VmConsole source sends in its own device-state section.</summary>
internal sealed record VmConsoleState(string RunState, WorkloadKind Workload, long PagesPerSecond, long WorkingSetBytes, long SweepPage = 0)
{
    /// <summary>The source's state as the destination should take it up: <paramref name="runState"/> is what the guest was doing before switchover stopped it.</summary>
    public static byte[] Serialize(Vm vm, RunState runState) => JsonSerializer.SerializeToUtf8Bytes(
        new VmConsoleState(runState.ToQemuName(), vm.Workload.Spec.Kind, vm.Workload.Spec.PagesPerSecond, vm.Workload.Spec.WorkingSetBytes, vm.Workload.SweepPage),
        JsonSerializerOptions.Web);

    public static VmConsoleState Parse(ReadOnlySequence<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            return JsonSerializer.Deserialize<VmConsoleState>(ref reader, JsonSerializerOptions.Web)
                ?? throw new MigrationStreamException("vmconsole/state section is empty");
        }
        catch (JsonException ex)
        {
            throw new MigrationStreamException($"vmconsole/state section is not valid: {ex.Message}", ex);
        }
    }
}

/// <summary>
/// Loads a stream into a VM waiting in <c>inmigrate</c>, as QEMU's ram_load does: the announced blocks must
/// exist with the same length (a resizeable block is resized to it), and the pages land in guest memory through a
/// <see cref="GuestPageLoader"/>.
/// </summary>
internal sealed class DestinationSink(Vm vm, MigrationLease lease) : IMigrationStreamSink, IMultifdPageSink, IDisposable
{
    private RamBlock[] _blocks = [];
    private GuestPageLoader? _pages;

    public VmConsoleState? State { get; private set; }

    public bool ReachedEof { get; private set; }

    /// <summary>The blocks the stream carried, in stream order.</summary>
    public IReadOnlyList<RamBlock> Blocks => _blocks;

    public void OnConfiguration(string machineType)
    {
        if (machineType != vm.Machine.Name && Qemu.QemuMachineTypes.FindPreset(machineType) != vm.Machine)
        {
            throw Qemu.QemuMachineTypes.Mismatch(machineType, vm.Machine.Name);
        }
    }

    public void OnRamBlocks(IReadOnlyList<RamBlockHeader> blocks)
    {
        var found = new RamBlock[blocks.Count];
        for (var i = 0; i < blocks.Count; i++)
        {
            var (idStr, length) = blocks[i];
            var block = vm.FindMigratable(idStr)
                ?? throw new MigrationStreamException($"Unknown ramblock \"{idStr}\", cannot accept migration");
            if (length != block.UsedLength)
            {
                if (!block.Resizeable)
                {
                    throw new MigrationStreamException($"Size mismatch: {idStr}: 0x{length:x} != 0x{block.UsedLength:x}: Invalid argument");
                }

                if (length > block.MaxLength)
                {
                    throw new MigrationStreamException($"Size too large: {idStr}: 0x{length:x} > 0x{block.MaxLength:x}: Invalid argument");
                }

                vm.ResizeUnderLease(lease, block.Id, length);
            }

            found[i] = block;
        }

        _blocks = found;
        _pages = new GuestPageLoader(found);
    }

    public void OnZeroPage(int block, long offset, byte fill) => _pages!.OnZeroPage(block, offset, fill);

    public void OnPage(int block, long offset, ReadOnlySequence<byte> data) => _pages!.OnPage(block, offset, data);

    public Span<byte> MultifdPage(int block, long offset) => _pages!.MultifdPage(block, offset);

    /// <summary>The page as loaded so far: the base an XBZRLE delta applies to.</summary>
    public void ReadPage(int block, long offset, Span<byte> page) => _pages!.ReadPage(block, offset, page);

    public void OnRamSectionDone(bool end) => _pages?.Flush();

    public void OnVmConsoleState(ReadOnlySequence<byte> payload) => State = VmConsoleState.Parse(payload);

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
}
