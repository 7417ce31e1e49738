namespace VmConsole.Emulation.Drivers;

/// <summary>
/// One row of a VM's RAM block table, whichever driver runs it: the columns of QEMU's <c>x-query-ramblock</c> joined
/// with the backend and device each block belongs to. <see cref="Id"/> is the console's stable number for the block (the
/// API's <c>/ramblocks/{id}</c>).
/// </summary>
public sealed record RamBlockRow(
    int Id, string IdStr, string? BackendId, string? DeviceId, long Offset, long PageSize, long UsedLength, long MaxLength,
    bool Migratable, bool Resizeable, bool Shared, bool ReadOnly, long? GuestAddress, double DirtyPagesPerSecond)
{
    public bool GuestVisible => GuestAddress is not null;

    /// <summary>The name to show: the idstr, or for an unnamed block its backend.</summary>
    public string DisplayName => IdStr.Length > 0 ? IdStr : BackendId ?? $"block {Id}";
}

/// <summary>A memory device (pc-dimm) of a VM; <see cref="UnplugPending"/> while QEMU waits for the guest to release it.</summary>
public sealed record MemoryDeviceRow(string Id, string Driver, string Memdev, int Slot, long? Address, long Size, bool UnplugPending = false);
