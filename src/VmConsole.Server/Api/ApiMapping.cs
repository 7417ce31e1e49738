using VmConsole.Emulation;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;

namespace VmConsole.Server.Api;

/// <summary>Domain objects as the API shows them.</summary>
internal static class ApiMapping
{
    public static HostDto ToDto(this IVmHost host, int vmCount) => new(
        host.Name, host.CapacityBytes, host.ReservedBytes, host.CapacityBytes - host.ReservedBytes, vmCount, host.Driver.ToApiName(), host.UnavailableReason);

    /// <summary>A VM of any driver: the one mapping to the API's shape.</summary>
    public static VmDto ToDto(this IVirtualMachine vm, MigrationRegistry migrations) => new(
        vm.Id, vm.Name, vm.HostName, vm.Machine, vm.RunState.ToQemuName(), vm.MemoryBytes, vm.Slots, vm.MaxMemBytes,
        WorkloadOf(vm), migrations.ActiveFor(vm.Name)?.Id, vm.Driver.ToApiName(), vm.StateReason, FeatureNames(vm.Features),
        vm.Process is { } p ? new VmProcessDto(p.Pid, p.QemuVersion, p.CommandLine, p.RuntimeDirectory) : null,
        vm.Driver == DriverKind.Qemu ? vm.Guest.ToString().ToLowerInvariant() : null,
        vm.MainRamBackend,
        [.. vm.NumaNodes.Select(n => new NumaNodeDto(n.Memdev, n.SizeBytes))]);

    public static RamBlockDto ToDto(this RamBlockRow b) => new(
        b.Id, b.IdStr, b.BackendId, b.Offset, b.PageSize, b.UsedLength, b.MaxLength,
        b.Migratable, b.Resizeable, b.Shared, b.ReadOnly, b.GuestVisible, b.GuestAddress, b.DirtyPagesPerSecond, b.DeviceId);

    public static DeviceDto ToDto(this MemoryDeviceRow d) => new(d.Id, d.Driver, d.Memdev, d.Slot, d.Address, d.Size, d.UnplugPending);

    /// <summary>The API's names of a driver's features: <c>workload</c>, <c>readGuestMemory</c>, <c>process</c>...</summary>
    public static IReadOnlyList<string> FeatureNames(VmFeatures features) =>
        [.. Enum.GetValues<VmFeatures>().Where(f => f != VmFeatures.None && features.HasFlag(f)).Select(f => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(f.ToString()))];

    // The workload is the emulator's (Features says whether a VM has one); its state lives on the emulated VM.
    private static WorkloadDto? WorkloadOf(IVirtualMachine vm) => vm.Features.HasFlag(VmFeatures.Workload) && vm is Vm emulated
        ? new WorkloadDto(emulated.Workload.Spec.Kind.ToString().ToLowerInvariant(), emulated.Workload.Spec.PagesPerSecond, emulated.Workload.Spec.WorkingSetBytes, emulated.Workload.ThrottlePercent)
        : null;

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
    public static IReadOnlyList<RamBlockDto> BlocksDto(this ArrivingVm a) => a.Received is { } r ? [.. r.RamBlocks.Select(b => r.ToRow(b).ToDto())] : [];

    public static RamBlockDto ToDto(this RamBlock b) => new(
        b.Id, b.IdStr, b.BackendId, b.Offset, b.PageSize, b.UsedLength, b.MaxLength,
        b.Migratable, b.Resizeable, b.Shared, b.ReadOnly, b.GuestVisible, b.GuestAddress, b.DirtyPagesPerSecond);

    public static DeviceDto ToDto(this MemoryDevice d) => new(d.Id, d.Driver, d.Memdev, d.Slot, d.Address, d.Size);

    public static ImportSummaryDto ToDto(this VmConsole.Migration.Qemu.QemuImportResult r) => new(
        r.MachineType,
        [.. r.Blocks.Select(b => new StreamBlockDto(b.IdStr, b.UsedLength))],
        r.DeviceState.ToDto(),
        r.BytesRead, r.NormalPages, r.ZeroPages, r.Duration.TotalMilliseconds);

    /// <summary>A VM's device state for the API; none (a VM made here) says that QEMU boots it from reset.</summary>
    public static DeviceStateDto ToDto(this DeviceState? state) => new(
        state is not null,
        VmConsole.Migration.Qemu.DeviceStateNotes.For(state),
        state is null ? [] : [.. state.Sections.Select(s => new DeviceSectionDto(s.IdStr, s.InstanceId, s.VersionId, s.State.Length))],
        state?.StateBytes ?? 0);

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
            m.Direction.ToApiName(), s.XbzrleCache.ToDto());
    }

    /// <summary>The xbzrle-cache figures as the API shows them; null without the capability.</summary>
    public static XbzrleCacheDto? ToDto(this XbzrleCacheStats? x) =>
        x is null ? null : new(x.CacheSize, x.Bytes, x.Pages, x.CacheMiss, x.CacheMissRate, x.EncodingRate, x.Overflow);

    /// <summary>The API's spelling of a direction: <c>outgoing</c>, <c>incoming</c>.</summary>
    public static string ToApiName(this MigrationDirection direction) => direction == MigrationDirection.Incoming ? "incoming" : "outgoing";
}
