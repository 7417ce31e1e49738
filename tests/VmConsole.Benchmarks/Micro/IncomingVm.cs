using VmConsole.Emulation;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// A destination VM as a migration receives into: an incoming microvm (not in the inventory yet) under a migration
/// lease, with the engine's own <see cref="DestinationSink"/> over it.
/// </summary>
internal sealed class IncomingVm : IDisposable
{
    private readonly Emulator _emulator = new();
    private readonly Vm _vm;
    private readonly MigrationLease _lease;

    public IncomingVm(long memoryBytes)
    {
        _emulator.AddHost("bench-host", 64L << 30);
        _vm = _emulator.CreateIncomingVm(new VmDefinition("bench-destination", "bench-host", "microvm", memoryBytes));
        _lease = _vm.Freeze.Acquire(new Holder());
    }

    public string Machine => _vm.Machine.Name;

    public RamBlock MainRam => _vm.MainRam;

    /// <summary>The stream's RAM setup announces only the main RAM block: index 0 in page records.</summary>
    public RamBlockHeader MainRamHeader => new(MainRam.IdStr, MainRam.UsedLength);

    /// <summary>A sink as MigrationRun makes one; dispose it before this VM.</summary>
    public DestinationSink CreateSink() => new(_vm, _lease);

    public void Dispose()
    {
        _lease.Dispose();
        _emulator.DiscardIncoming(_vm);
        _emulator.Dispose();
    }

    private sealed class Holder : IMigrationLeaseHolder
    {
        public string MigrationId => "benchmark";

        public MigrationStatus Status => MigrationStatus.Active;

        public void RequestCancel(string? error)
        {
        }
    }
}
