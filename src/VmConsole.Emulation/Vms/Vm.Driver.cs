using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Drivers;

namespace VmConsole.Emulation.Vms;

/// <summary>An emulated VM as the console's one face for VMs of every driver shows it.</summary>
public sealed partial class Vm : IVirtualMachine
{
    private const VmFeatures EmulatedFeatures =
        VmFeatures.Workload | VmFeatures.ReadGuestMemory | VmFeatures.WriteGuestMemory | VmFeatures.Export | VmFeatures.BlockInternals;

    private event Action<IVirtualMachine, VmChangeKind>? StateChanged;

    event Action<IVirtualMachine, VmChangeKind>? IVirtualMachine.StateChanged
    {
        add => StateChanged += value;
        remove => StateChanged -= value;
    }

    string IVirtualMachine.HostName => Host.Name;

    public DriverKind Driver => DriverKind.Emulator;

    string IVirtualMachine.Machine => Machine.Name;

    string? IVirtualMachine.StateReason => null;

    public VmFeatures Features => EmulatedFeatures;

    VmProcessInfo? IVirtualMachine.Process => null;

    GuestProgram IVirtualMachine.Guest => Definition.Guest;

    string? IVirtualMachine.MainRamBackend => Definition.MainRamBackend;

    IReadOnlyList<NumaNode> IVirtualMachine.NumaNodes => Definition.NumaNodes;

    string IVirtualMachine.Activity => Workload.Spec.ToString();

    double? IVirtualMachine.DirtyPagesPerSecond => RamBlocks.Sum(b => b.DirtyPagesPerSecond);

    bool IVirtualMachine.Frozen => Freeze.IsFrozen;

    Task<IReadOnlyList<RamBlockRow>> IVirtualMachine.GetRamBlocksAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<RamBlockRow>>([.. RamBlocks.Select(ToRow)]);

    Task<IReadOnlyList<MemoryDeviceRow>> IVirtualMachine.GetDevicesAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<MemoryDeviceRow>>([.. Devices.Select(ToRow)]);

    Task<RamBlockRow> IVirtualMachine.AddBackendAsync(string backendId, long sizeBytes, CancellationToken cancellationToken) =>
        Task.FromResult(ToRow(AddMemoryBackend(backendId, sizeBytes)));

    Task IVirtualMachine.RemoveBlockAsync(int blockId, CancellationToken cancellationToken)
    {
        FreeBlock(blockId);
        return Task.CompletedTask;
    }

    Task<MemoryDeviceRow> IVirtualMachine.PlugDimmAsync(string deviceId, string memdev, CancellationToken cancellationToken) =>
        Task.FromResult(ToRow(PlugDimm(deviceId, memdev)));

    Task IVirtualMachine.UnplugDimmAsync(string deviceId, CancellationToken cancellationToken)
    {
        UnplugDimm(deviceId);
        return Task.CompletedTask;
    }

    Task<byte[]> IVirtualMachine.ReadGuestPhysicalAsync(long address, int length, CancellationToken cancellationToken)
    {
        var bytes = new byte[length];
        ReadGuest(address, bytes);
        return Task.FromResult(bytes);
    }

    /// <summary>A block of this VM as a row of the RAM block table every driver fills.</summary>
    public RamBlockRow ToRow(RamBlock b)
    {
        ArgumentNullException.ThrowIfNull(b);
        var device = b.BackendId is null ? null : Devices.FirstOrDefault(d => d.Memdev == b.BackendId)?.Id;
        return new RamBlockRow(
            b.Id, b.IdStr, b.BackendId, device, b.Offset, b.PageSize, b.UsedLength, b.MaxLength,
            b.Migratable, b.Resizeable, b.Shared, b.ReadOnly, b.GuestAddress, b.DirtyPagesPerSecond);
    }

    private static MemoryDeviceRow ToRow(MemoryDevice d) => new(d.Id, d.Driver, d.Memdev, d.Slot, d.Address, d.Size);

    private void RaiseStateChanged(VmChangeKind kind) => StateChanged?.Invoke(this, kind);
}
