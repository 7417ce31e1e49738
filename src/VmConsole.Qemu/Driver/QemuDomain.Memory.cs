using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Driver;

/// <summary>
/// A QEMU domain's memory as the console shows and changes it: RAM blocks and memory devices read from its running QEMU,
/// backends and DIMMs added and removed there, the dirty rate QEMU measures, and guest-physical memory read through
/// <c>pmemsave</c>.
/// </summary>
public sealed partial class QemuDomain
{
    /// <summary>The most one read of guest memory returns (a few pages of the inspector, never a memory dump).</summary>
    public const int MaxReadBytes = 1 << 20;

    private readonly Lock _idsGate = new();
    private readonly Dictionary<string, int> _blockIds = new(StringComparer.Ordinal);

    // QEMU's last measurement in pages/s, -1 before the first; written by MeasureDirtyRateAsync, read by anyone.
    private double _dirtyRate = -1;

    // Under _idsGate.
    private int _lastBlockId;

    /// <summary>QEMU's last <c>calc-dirty-rate</c> measurement, in 4 KiB pages per second; null before the first.</summary>
    public double? DirtyPagesPerSecond => Volatile.Read(ref _dirtyRate) is var rate and >= 0 ? rate : null;

    public async Task<IReadOnlyList<RamBlockRow>> GetRamBlocksAsync(CancellationToken cancellationToken = default)
    {
        if (Running is not { } vm)
        {
            return [];
        }

        var blocks = await vm.RamBlocksAsync(cancellationToken).ConfigureAwait(false);
        var backends = vm.Spec.Backends.Select(b => b.Id).ToHashSet(StringComparer.Ordinal);
        // The machine's own RAM has a memdev too (pc.ram, since QEMU 5.0): shown as the machine's, not as a backend to plug or free.
        return [.. blocks.Select(b => new RamBlockRow(
            BlockId(b.BackendId ?? (b.IdStr.Length > 0 ? b.IdStr : $"@{b.Offset}")), b.IdStr, b.BackendId is { } id && backends.Contains(id) ? id : null, b.DeviceId,
            b.Offset, b.PageSize, b.UsedLength, b.MaxLength, b.Migratable, b.Resizeable, Shared: false, ReadOnly: IsRom(b.IdStr),
            GuestAddress: null, DirtyPagesPerSecond: 0))];
    }

    public async Task<IReadOnlyList<MemoryDeviceRow>> GetDevicesAsync(CancellationToken cancellationToken = default)
    {
        if (Running is not { } vm)
        {
            return [];
        }

        var pending = vm.Memory.PendingUnplugs;
        var devices = await vm.RunAsync("query-memory-devices", null, cancellationToken).ConfigureAwait(false);
        var rows = new List<MemoryDeviceRow>();
        foreach (var device in devices.EnumerateArray())
        {
            if (!device.TryGetProperty("data", out var data) || !data.TryGetProperty("id", out var idElement))
            {
                continue;
            }

            var id = idElement.GetString() ?? "";
            var memdev = data.TryGetProperty("memdev", out var m) ? (m.GetString() ?? "").Replace("/objects/", "", StringComparison.Ordinal) : "";
            rows.Add(new MemoryDeviceRow(
                id,
                device.TryGetProperty("type", out var type) && type.GetString() == "dimm" ? "pc-dimm" : type.GetString() ?? "",
                memdev,
                data.TryGetProperty("slot", out var slot) ? slot.GetInt32() : -1,
                data.TryGetProperty("addr", out var addr) ? addr.GetInt64() : null,
                data.TryGetProperty("size", out var size) ? size.GetInt64() : 0,
                pending.Contains(id)));
        }

        return rows;
    }

    public async Task<RamBlockRow> AddBackendAsync(string backendId, long sizeBytes, CancellationToken cancellationToken = default)
    {
        var vm = RequireRunningForMemory();
        var host = Host;
        if (host.ReservedBytes + sizeBytes > host.CapacityBytes)
        {
            throw DomainException.Conflict(ErrorCodes.HostCapacity, $"Host '{host.Name}' has {Sizes.Format(host.CapacityBytes - host.ReservedBytes)} free; backend '{backendId}' needs {Sizes.Format(sizeBytes)}.");
        }

        await vm.Memory.AddBackendAsync(backendId, sizeBytes, cancellationToken).ConfigureAwait(false);
        var rows = await GetRamBlocksAsync(cancellationToken).ConfigureAwait(false);
        return rows.FirstOrDefault(r => r.BackendId == backendId)
            ?? throw DomainException.Conflict(ErrorCodes.QemuRefused, $"QEMU of VM '{Name}' took backend '{backendId}' but lists no block for it.");
    }

    public async Task RemoveBlockAsync(int blockId, CancellationToken cancellationToken = default)
    {
        var vm = RequireRunningForMemory();
        var row = (await GetRamBlocksAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(r => r.Id == blockId)
            ?? throw DomainException.NotFound(ErrorCodes.BlockNotFound, $"VM '{Name}' has no RAM block {blockId}.");
        // The machine's own RAM has a backend too (pc.ram, since QEMU 5.0), but not one the console added.
        if (row.BackendId is not { } backend)
        {
            throw DomainException.Conflict(ErrorCodes.MachineBlock, $"Block '{row.DisplayName}' belongs to the machine, not to a memory backend: it cannot be removed.");
        }

        await vm.Memory.RemoveBackendAsync(backend, cancellationToken).ConfigureAwait(false);
    }

    public async Task<MemoryDeviceRow> PlugDimmAsync(string deviceId, string memdev, CancellationToken cancellationToken = default)
    {
        var vm = RequireRunningForMemory();
        await vm.Memory.PlugDimmAsync(deviceId, memdev, cancellationToken).ConfigureAwait(false);
        return (await GetDevicesAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(d => d.Id == deviceId)
            ?? throw DomainException.Conflict(ErrorCodes.QemuRefused, $"QEMU of VM '{Name}' took device '{deviceId}' but does not list it.");
    }

    public Task UnplugDimmAsync(string deviceId, CancellationToken cancellationToken = default) =>
        RequireRunningForMemory().Memory.UnplugDimmAsync(deviceId, cancellationToken);

    /// <summary>
    /// Measures the guest's dirty rate as QEMU does (<c>calc-dirty-rate</c> over a second), keeps it as
    /// <see cref="DirtyPagesPerSecond"/> and returns it; null when QEMU could not measure (the guest is not running).
    /// </summary>
    public async Task<double?> MeasureDirtyRateAsync(CancellationToken cancellationToken = default)
    {
        var megabytesPerSecond = await RequireRunning(PowerAction.Resume).MeasureDirtyRateAsync(1, cancellationToken).ConfigureAwait(false);
        if (megabytesPerSecond is not { } rate)
        {
            return null;
        }

        // QEMU's MB is a MiB (dirty-rate is pages * 4 KiB >> 20), so a MB/s is 256 pages/s.
        var pages = rate * (Sizes.MiB / 4096.0);
        Volatile.Write(ref _dirtyRate, pages);
        Raise(VmChangeKind.Workload);
        return pages;
    }

    /// <summary>
    /// Reads guest-physical memory through QEMU's <c>pmemsave</c> into a file of the VM's runtime directory (readable by
    /// the console's user only), then removes the file. Bounded to <see cref="MaxReadBytes"/>.
    /// </summary>
    public async Task<byte[]> ReadGuestPhysicalAsync(long address, int length, CancellationToken cancellationToken = default)
    {
        if (address < 0 || length is < 1 or > MaxReadBytes || address > long.MaxValue - length)
        {
            throw DomainException.Invalid(ErrorCodes.OutOfRange, $"Read 1 byte to {MaxReadBytes / Sizes.MiB} MiB at a guest-physical address of 0 or more; got {length} bytes at {address}.", "length");
        }

        var vm = RequireRunning(PowerAction.Resume);
        var file = Path.Combine(vm.RuntimeDirectory, $"inspect-{Guid.NewGuid():N}.bin");
        try
        {
            await vm.RunAsync("pmemsave", new Dictionary<string, object> { ["val"] = address, ["size"] = length, ["filename"] = file }, cancellationToken).ConfigureAwait(false);
            return await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private QemuVm RequireRunningForMemory() =>
        Running ?? throw DomainException.Conflict(ErrorCodes.VmNotRunning, $"VM '{Name}' is shut off ({StateReason}): its memory is changed in its running QEMU; start it first.");

    /// <summary>Firmware QEMU maps read-only: option ROMs, fw_cfg blobs, the BIOS.</summary>
    private static bool IsRom(string idStr) =>
        idStr.StartsWith("/rom@", StringComparison.Ordinal) || idStr.EndsWith(".rom", StringComparison.Ordinal) || idStr is "pc.bios" or "isa-bios";

    private int BlockId(string key)
    {
        lock (_idsGate)
        {
            if (!_blockIds.TryGetValue(key, out var id))
            {
                id = ++_lastBlockId;
                _blockIds[key] = id;
            }

            return id;
        }
    }
}
