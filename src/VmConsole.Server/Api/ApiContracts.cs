using VmConsole.Emulation;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;

namespace VmConsole.Server.Api;

public sealed record HostDto(string Name, long MemoryBytes, long ReservedBytes, long FreeBytes, int VmCount);

public sealed record WorkloadDto(string Kind, long PagesPerSecond, long WorkingSetBytes, int ThrottlePercent);

public sealed record VmDto(
    Guid Id, string Name, string Host, string Machine, string RunState, long MemoryBytes, int Slots, long MaxMemBytes,
    WorkloadDto Workload, string? ActiveMigrationId);

public sealed record RamBlockDto(
    int Id, string IdStr, string? BackendId, long Offset, long PageSize, long UsedLength, long MaxLength,
    bool Migratable, bool Resizeable, bool Shared, bool ReadOnly, bool GuestVisible, long? GuestAddress, double DirtyPagesPerSecond);

public sealed record DeviceDto(string Id, string Driver, string Memdev, int Slot, long Address, long Size);

public sealed record MigrationRamDto(
    long Transferred, long Remaining, long Total, long Duplicate, long Normal, long NormalBytes, double DirtyPagesRate,
    double Mbps, long DirtySyncCount, long PageSize, double PagesPerSecond, long PrecopyBytes, long DowntimeBytes);

public sealed record MigrationEventDto(string Status, DateTimeOffset At);

public sealed record MigrationDto(
    string Id, string Vm, string SourceHost, string? DestinationHost, string? Uri, string Status,
    MigrationParameters Parameters, MigrationCapabilities Capabilities,
    long? SetupTime, long TotalTime, long? ExpectedDowntime, long? Downtime, MigrationRamDto Ram,
    int CpuThrottlePercentage, string? ErrorDesc, bool? Verified, IReadOnlyList<int> ThrottleSteps, IReadOnlyList<MigrationEventDto> Events,
    string Direction);

// Requests: every field nullable, so that a missing field is a validation error naming it, not a 500.
public sealed record CreateVmRequest(string? Name, string? Host, string? Machine, long? MemoryMiB, WorkloadRequest? Workload, int? Slots, long? MaxMemMiB, bool? Start);

public sealed record PowerRequest(string? Action);

public sealed record WorkloadRequest(string? Kind, long? PagesPerSecond, long? WorkingSetMiB);

public sealed record AddBackendRequest(string? BackendId, long? SizeBytes);

public sealed record MigratableRequest(bool? Migratable);

public sealed record ResizeRequest(long? UsedLength);

public sealed record DeviceRequest(string? Driver, string? Id, string? Memdev);

public sealed record MigrationParametersRequest(
    long? MaxBandwidth, long? DowntimeLimit, int? CpuThrottleInitial, int? CpuThrottleIncrement, int? MaxCpuThrottle,
    int? ThrottleTriggerThreshold, int? MultifdChannels, long? XbzrleCacheSize);

public sealed record MigrationCapabilitiesRequest(bool? AutoConverge, bool? PostcopyRam, bool? PauseBeforeSwitchover, bool? Multifd, bool? Xbzrle, bool? Events);

public sealed record StartMigrationRequest(string? Vm, string? DestinationHost, string? Uri, MigrationParametersRequest? Parameters, MigrationCapabilitiesRequest? Capabilities, bool? QemuCompatible);

public sealed record ImportVmRequest(string? Name, string? Host, string? Path);

public sealed record ExportVmRequest(string? Path);

public sealed record IncomingMigrationRequest(string? Name, string? Host, string? Uri);

/// <summary>A device section of the stream that VmConsole stepped over (its state is not in the VM).</summary>
public sealed record NotImportedDto(string Name, uint InstanceId, uint VersionId, long Bytes);

public sealed record StreamBlockDto(string IdStr, long UsedLength);

/// <summary>What an import read: the stream's machine type and blocks, the device sections it skipped, and what it cost.</summary>
public sealed record ImportSummaryDto(
    string MachineType, IReadOnlyList<StreamBlockDto> Blocks, IReadOnlyList<NotImportedDto> NotImported,
    long BytesRead, long NormalPages, long ZeroPages, double DurationMs);

public sealed record ImportedVmDto(VmDto Vm, ImportSummaryDto Import);

public sealed record ExportSummaryDto(string Vm, string Path, string MachineType, IReadOnlyList<StreamBlockDto> Blocks, long BytesWritten, long NormalPages, long ZeroPages);

/// <summary>Domain objects as the API shows them.</summary>
internal static class ApiMapping
{
    public static HostDto ToDto(this VmConsole.Emulation.Hosts.Host host, int vmCount) => new(host.Name, host.CapacityBytes, host.ReservedBytes, host.FreeBytes, vmCount);

    public static VmDto ToDto(this Vm vm, MigrationRegistry migrations) => new(
        vm.Id, vm.Name, vm.Host.Name, vm.Machine.Name, vm.RunState.ToQemuName(), vm.MemoryBytes, vm.Slots, vm.MaxMemBytes,
        new WorkloadDto(vm.Workload.Spec.Kind.ToString().ToLowerInvariant(), vm.Workload.Spec.PagesPerSecond, vm.Workload.Spec.WorkingSetBytes, vm.Workload.ThrottlePercent),
        migrations.ActiveFor(vm.Name)?.Id);

    /// <summary>
    /// A VM arriving from QEMU, as the inventory lists it: <c>inmigrate</c>, idle, its machine and memory once the stream's
    /// RAM setup named them (empty and 0 before), and the migration bringing it in.
    /// </summary>
    public static VmDto ToDto(this ArrivingVm a, MigrationRegistry migrations)
    {
        var received = a.Received;
        return new VmDto(
            a.Id, a.Name, a.Host.Name, received?.Machine.Name ?? "", a.RunState.ToQemuName(), received?.MemoryBytes ?? 0, received?.Slots ?? 0,
            received?.MaxMemBytes ?? 0, new WorkloadDto("idle", 0, 0, 0), migrations.ActiveFor(a.Name)?.Id);
    }

    /// <summary>The blocks of a VM arriving from QEMU: none until the stream's RAM setup made them.</summary>
    public static IReadOnlyList<RamBlockDto> BlocksDto(this ArrivingVm a) => [.. (a.Received?.RamBlocks ?? []).Select(b => b.ToDto())];

    public static RamBlockDto ToDto(this RamBlock b) => new(
        b.Id, b.IdStr, b.BackendId, b.Offset, b.PageSize, b.UsedLength, b.MaxLength,
        b.Migratable, b.Resizeable, b.Shared, b.ReadOnly, b.GuestVisible, b.GuestAddress, b.DirtyPagesPerSecond);

    public static DeviceDto ToDto(this MemoryDevice d) => new(d.Id, d.Driver, d.Memdev, d.Slot, d.Address, d.Size);

    public static ImportSummaryDto ToDto(this VmConsole.Migration.Qemu.QemuImportResult r) => new(
        r.MachineType,
        [.. r.Blocks.Select(b => new StreamBlockDto(b.IdStr, b.UsedLength))],
        [.. r.NotImported.Select(s => new NotImportedDto(s.Name, s.InstanceId, s.VersionId, s.Bytes))],
        r.BytesRead, r.NormalPages, r.ZeroPages, r.Duration.TotalMilliseconds);

    /// <summary>Any migration, live: the one mapping to the API's shape.</summary>
    public static MigrationDto ToDto(this IMigration m)
    {
        var s = m.GetStats();
        return new MigrationDto(
            m.Id, m.VmName, m.SourceHost, m.DestinationHost, m.Uri, s.Status.ToQemuName(), m.Parameters, m.Capabilities,
            s.SetupTime, s.TotalTime, s.ExpectedDowntime, s.Downtime,
            new MigrationRamDto(s.Transferred, s.Remaining, s.Total, s.Duplicate, s.Normal, s.NormalBytes, s.DirtyPagesRate, s.Mbps,
                s.DirtySyncCount, s.PageSize, s.PagesPerSecond, s.PrecopyBytes, s.DowntimeBytes),
            s.CpuThrottlePercentage, s.ErrorDesc, m.Verified, m.ThrottleSteps, [.. m.Events.Select(e => new MigrationEventDto(e.Status.ToQemuName(), e.At))],
            m.Direction.ToApiName());
    }

    /// <summary>The API's spelling of a direction: <c>outgoing</c>, <c>incoming</c>.</summary>
    public static string ToApiName(this MigrationDirection direction) => direction == MigrationDirection.Incoming ? "incoming" : "outgoing";
}
