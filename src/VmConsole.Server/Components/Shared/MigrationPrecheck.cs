using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using Host = VmConsole.Emulation.Hosts.Host;
using VmConsole.Emulation.Vms;

namespace VmConsole.Server.Components.Shared;

/// <summary>
/// What can be known before a migration starts: whether the destination can hold the VM, whether the name is free
/// there, whether the block layout can be rebuilt, and whether precopy can converge at the chosen bandwidth.
/// </summary>
public static partial class MigrationPrecheck
{
    /// <summary>The checks for a VM of any driver: the emulator's own for an emulated VM, the driver's path and the host's room otherwise.</summary>
    public static IReadOnlyList<PrecheckItem> Run(Emulator emulator, IVirtualMachine vm, IVmHost? destination, IReadOnlyList<RamBlockRow> blocks)
    {
        if (destination is null)
        {
            return [new("Destination", false, "Choose a destination host.")];
        }

        if (destination.UnavailableReason is { } reason)
        {
            return [new("Destination", false, $"{destination.Name} cannot run VMs: {reason}")];
        }

        if (destination.Driver != vm.Driver)
        {
            return CrossDriver(vm, destination, blocks);
        }

        if (emulator.TryGetVm(vm.Name, out var emulated) && ReferenceEquals(emulated, vm))
        {
            return Run(emulator, emulated, emulator.Hosts.FirstOrDefault(h => h.Name == destination.Name));
        }

        var migratable = blocks.Where(b => b.Migratable).ToList();
        var needed = vm.MemoryBytes + blocks.Where(b => IsExtraBackend(vm, b)).Sum(b => b.MaxLength);
        var free = destination.CapacityBytes - destination.ReservedBytes;
        return
        [
            new("Destination", destination.Name != vm.HostName, destination.Name != vm.HostName ? $"A new QEMU is started on {destination.Name} with -incoming defer and the same machine, memory, backends and DIMMs." : $"'{vm.Name}' already runs on {destination.Name}."),
            new("Destination capacity", free >= needed, $"{Display.Bytes(needed)} needed, {Display.Bytes(free)} free on {destination.Name}."),
            new("Block compatibility", migratable.Count > 0, $"{migratable.Count} migratable blocks ({Display.Bytes(migratable.Sum(b => b.UsedLength))}) as QEMU reports them."),
        ];
    }

    /// <summary>
    /// Between drivers (DESIGN.md sections 9 and 11): the path, what does not cross, the room, and the blocks as far as
    /// they are known before the destination exists (a QEMU destination is checked block by block once it is started).
    /// </summary>
    public static IReadOnlyList<PrecheckItem> CrossDriver(IVirtualMachine vm, IVmHost destination, IReadOnlyList<RamBlockRow> blocks)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(blocks);
        var migratable = blocks.Where(b => b.Migratable).ToList();
        var needed = vm.MemoryBytes + blocks.Where(b => IsExtraBackend(vm, b)).Sum(b => b.MaxLength);
        var free = destination.CapacityBytes - destination.ReservedBytes;
        var capacity = new PrecheckItem("Destination capacity", free >= needed, $"{Display.Bytes(needed)} needed, {Display.Bytes(free)} free on {destination.Name}.");
        if (vm.Driver == DriverKind.Emulator)
        {
            // QEMU registers a backend for migration only when a pc-dimm uses it.
            var unplugged = migratable.FirstOrDefault(b => b.BackendId is not null && b.DeviceId is null);
            return
            [
                new("Driver", true, $"A QEMU is started on {destination.Name} with -incoming defer and the VM's machine, memory, backends and DIMMs; the engine sends it a QEMU-compatible stream."),
                (vm as Vm)?.DeviceState is { } state
                    ? new PrecheckItem("What crosses", true, $"Memory, and the CPU and device state QEMU sent with the VM ({state.Sections.Length} sections), unchanged and in QEMU's order: QEMU goes on where the guest stopped.")
                    : new PrecheckItem("What crosses", true, "Memory only: a VM born in the emulator has no CPU or device state, so QEMU starts it from reset, running the ROM blocks it receives (the emulator's stand-in firmware); its workload stays behind."),
                capacity,
                unplugged is null
                    ? new("Block compatibility", migratable.Count > 0, $"{migratable.Count} migratable blocks ({Display.Bytes(migratable.Sum(b => b.UsedLength))}); each is checked against the QEMU started there before anything is sent.")
                    : new("Block compatibility", false, $"Block '{unplugged.DisplayName}' is migratable without a DIMM: QEMU would not have it. Plug it or unset migratable."),
            ];
        }

        return
        [
            new("Driver", true, $"The console listens for {vm.Name}'s QEMU on {destination.Name}; QEMU migrates into it and quits once the VM has arrived."),
            new("What crosses", true, "Memory, and QEMU's CPU and device state kept verbatim: the emulator does not run the guest's CPUs, so the guest program stops here; sent back to QEMU, the VM goes on where it stopped."),
            capacity,
            new("Block compatibility", migratable.Count > 0, $"{migratable.Count} migratable blocks ({Display.Bytes(migratable.Sum(b => b.UsedLength))}) as QEMU reports them."),
        ];
    }

    public static IReadOnlyList<PrecheckItem> Run(Emulator emulator, Vm vm, Host? destination)
    {
        if (destination is null)
        {
            return [new("Destination", false, "Choose a destination host.")];
        }

        if (destination == vm.Host)
        {
            return [new("Destination", false, $"'{vm.Name}' already runs on {destination.Name}.")];
        }

        var needed = vm.ReservedBytes;
        var nameTaken = emulator.IncomingOn(destination).Any(v => v.Name == vm.Name);
        var items = new List<PrecheckItem>
        {
            new("Destination capacity", destination.FreeBytes >= needed,
                $"{Display.Bytes(needed)} needed, {Display.Bytes(destination.FreeBytes)} free on {destination.Name}."),
            new("Name", !nameTaken,
                nameTaken ? $"{destination.Name} is already receiving a VM named '{vm.Name}'." : $"'{vm.Name}' is free on {destination.Name}."),
            new("Block compatibility", vm.RamBlocks.Any(b => b.Migratable),
                vm.RamBlocks.Any(b => b.Migratable)
                    ? $"{vm.RamBlocks.Count(b => b.Migratable)} migratable blocks ({Display.Bytes(vm.RamBlocks.Where(b => b.Migratable).Sum(b => b.UsedLength))}) on a {vm.Machine.Name} built the same way."
                    : "No block is migratable: there is nothing to send."),
        };
        return items;
    }

    /// <summary>The largest bandwidth the dialog accepts, in MiB/s (QEMU's max-bandwidth allows more; no link here is faster).</summary>
    public const long MaxBandwidthMiB = 1_048_576;

    /// <summary>The largest downtime limit the dialog accepts, in ms.</summary>
    public const long MaxDowntimeMs = 2_000_000;

    /// <summary>Why a bandwidth in MiB/s is not one to migrate with (empty, negative, too large), or null when it is (0 is unlimited).</summary>
    public static string? CheckBandwidth(long? mib) => mib switch
    {
        null => "Enter a bandwidth in MiB/s (0 for unlimited).",
        < 0 or > MaxBandwidthMiB => "Between 0 and 1,048,576 MiB/s.",
        _ => null,
    };

    /// <summary>Why a downtime limit in ms is not one to migrate with, or null when it is.</summary>
    public static string? CheckDowntime(long? ms) => ms switch
    {
        null => "Enter a downtime limit in ms.",
        < 1 or > MaxDowntimeMs => "Between 1 and 2,000,000 ms.",
        _ => null,
    };

    /// <summary>
    /// A rough convergence estimate: each pass must send what the guest dirtied during the previous one, so passes
    /// shrink by the ratio of dirty rate to bandwidth until what is left fits in bandwidth x downtime limit. Null for a
    /// bandwidth or downtime limit that is not valid (<see cref="CheckBandwidth"/>, <see cref="CheckDowntime"/>): no
    /// estimate is made from them. With XBZRLE, <paramref name="xbzrleEncodingRate"/> (QEMU's encoding-rate: bytes of
    /// page per byte sent, once passes have measured it) shrinks what every pass after the first sends; unknown (null),
    /// the estimate assumes whole pages (<see cref="XbzrleEstimateNote"/> says so).
    /// </summary>
    public static ConvergenceEstimate? Estimate(
        IVirtualMachine vm, IReadOnlyList<RamBlockRow> blocks, long? bandwidthMiB, long? downtimeLimitMs, bool autoConverge, double? xbzrleEncodingRate = null)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(blocks);
        if (CheckBandwidth(bandwidthMiB) is not null || CheckDowntime(downtimeLimitMs) is not null)
        {
            return null;
        }

        var bandwidth = bandwidthMiB!.Value * Sizes.MiB;
        var downtimeLimit = downtimeLimitMs!.Value;
        var total = blocks.Where(b => b.Migratable).Sum(b => b.UsedLength);
        TimeSpan? firstPass = bandwidth == 0 ? null : TimeSpan.FromSeconds((double)total / bandwidth);
        if (bandwidth == 0)
        {
            return new("Unlimited bandwidth: no convergence estimate, as the link's speed is not known here.", false, firstPass, total);
        }

        // Emulated: each migratable block's sampled rate; QEMU: its own measurement of the whole guest (4 KiB pages).
        double dirtyBytesPerSecond;
        if (vm.Driver == DriverKind.Emulator)
        {
            dirtyBytesPerSecond = blocks.Where(b => b.Migratable).Sum(b => b.DirtyPagesPerSecond * b.PageSize);
        }
        else if (vm.DirtyPagesPerSecond is { } dirtyPages)
        {
            dirtyBytesPerSecond = dirtyPages * 4096;
        }
        else
        {
            return new("No dirty rate measured yet: the estimate follows once QEMU has measured one.", false, firstPass, total);
        }

        var dirty = Display.ByteRate(dirtyBytesPerSecond);
        var link = Display.ByteRate(bandwidth);

        // The first pass sends whole pages (XBZRLE encodes only pages its cache holds); the later ones send the deltas.
        var encoded = xbzrleEncodingRate is > 1 and var rate ? dirtyBytesPerSecond / rate : dirtyBytesPerSecond;
        var ratio = encoded / bandwidth;
        if (ratio >= 1)
        {
            return autoConverge
                ? new($"The guest dirties {dirty}, as fast as the {link} link or faster: auto-converge will have to throttle it to converge.", false, firstPass, total)
                : new($"Will not converge without auto-converge: the guest dirties {dirty}, as fast as the {link} link or faster, so every pass leaves as much to send as the one before.", true, firstPass, total);
        }

        var threshold = bandwidth * downtimeLimit / 1000.0;
        var pending = (double)total;
        var passes = 1;
        while (pending * ratio > threshold && passes < MaxPasses)
        {
            pending *= ratio;
            passes++;
        }

        if (passes >= MaxPasses)
        {
            var downtime = TimeSpan.FromSeconds(pending * ratio / bandwidth);
            return autoConverge
                ? new($"Converges only slowly: after {MaxPasses} passes the expected downtime is still {Display.Duration(downtime)}, above the {Display.Duration(downtimeLimit)} limit; auto-converge will have to throttle the guest.", false, firstPass, total)
                : new($"Will not converge within the downtime limit: after {MaxPasses} passes the expected downtime is still {Display.Duration(downtime)}, above the {Display.Duration(downtimeLimit)} limit (the guest dirties {dirty} against a {link} link).", true, firstPass, total);
        }

        var xbzrle = encoded < dirtyBytesPerSecond ? $", {Display.ByteRate(encoded)} on the wire with XBZRLE" : "";
        return new($"Converges in about {passes} pass{(passes == 1 ? "" : "es")} (dirty rate {dirty}{xbzrle} against {link}).", false, firstPass, total);
    }

    /// <summary>Passes after which the estimate gives up: an expected downtime still above the limit then is taken as not converging.</summary>
    private const int MaxPasses = 30;

    /// <summary>
    /// A backend beyond main RAM. A QEMU VM's main RAM is backends too (QEMU's pc.ram, a memory-backend=ID, the NUMA
    /// memdevs): migratable without a device, and already in the VM's memory. An emulated VM's main RAM has no backend.
    /// </summary>
    private static bool IsExtraBackend(IVirtualMachine vm, RamBlockRow block) =>
        block.BackendId is not null && (vm.Driver == DriverKind.Emulator || block.DeviceId is not null || !block.Migratable);
}
