using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using Host = VmConsole.Emulation.Hosts.Host;
using VmConsole.Emulation.Vms;

namespace VmConsole.Server.Components.Shared;

/// <summary>
/// What can be known before a migration starts: whether the destination can hold the VM, whether the name is free
/// there, whether the block layout can be rebuilt, and whether precopy can converge at the chosen bandwidth.
/// </summary>
public static class MigrationPrecheck
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
        var needed = vm.MemoryBytes + blocks.Where(b => b.BackendId is not null && b.IdStr != "pc.ram").Sum(b => b.MaxLength);
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
        var needed = vm.MemoryBytes + blocks.Where(b => b.BackendId is not null && b.IdStr != "pc.ram").Sum(b => b.MaxLength);
        var free = destination.CapacityBytes - destination.ReservedBytes;
        var capacity = new PrecheckItem("Destination capacity", free >= needed, $"{Display.Bytes(needed)} needed, {Display.Bytes(free)} free on {destination.Name}.");
        if (vm.Driver == DriverKind.Emulator)
        {
            // QEMU registers a backend for migration only when a pc-dimm uses it.
            var unplugged = migratable.FirstOrDefault(b => b.BackendId is not null && b.DeviceId is null);
            return
            [
                new("Driver", true, $"A QEMU is started on {destination.Name} with -incoming defer and the VM's machine, memory, backends and DIMMs; the engine sends it a QEMU-compatible stream."),
                new("What crosses", true, "Memory only: a VM born in the emulator has no CPU or device state, so QEMU starts it from reset, running the ROM blocks it receives (the emulator's stand-in firmware); its workload stays behind."),
                capacity,
                unplugged is null
                    ? new("Block compatibility", migratable.Count > 0, $"{migratable.Count} migratable blocks ({Display.Bytes(migratable.Sum(b => b.UsedLength))}); each is checked against the QEMU started there before anything is sent.")
                    : new("Block compatibility", false, $"Block '{unplugged.DisplayName}' is migratable without a DIMM: QEMU would not have it. Plug it or unset migratable."),
            ];
        }

        return
        [
            new("Driver", true, $"The console listens for {vm.Name}'s QEMU on {destination.Name}; QEMU migrates into it and quits once the VM has arrived."),
            new("What crosses", true, "Memory only: the emulator does not run the guest's CPUs, so the guest program stops; QEMU's CPU and device state is listed on the VM page, not carried on (back in QEMU the VM boots from reset)."),
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

    /// <summary>
    /// A rough convergence estimate: each pass must send what the guest dirtied during the previous one, so passes
    /// shrink by the ratio of dirty rate to bandwidth until what is left fits in bandwidth x downtime limit.
    /// </summary>
    public static string Estimate(IVirtualMachine vm, IReadOnlyList<RamBlockRow> blocks, long bandwidthBytesPerSecond, long downtimeLimitMs, bool autoConverge)
    {
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
            return "No dirty rate measured yet: the estimate follows once QEMU has measured one.";
        }

        var total = (double)blocks.Where(b => b.Migratable).Sum(b => b.UsedLength);
        if (bandwidthBytesPerSecond == 0)
        {
            return "Unlimited bandwidth: converges as fast as the link allows.";
        }

        var ratio = dirtyBytesPerSecond / bandwidthBytesPerSecond;
        if (ratio >= 1)
        {
            return autoConverge
                ? $"The guest dirties {Display.Bytes((long)dirtyBytesPerSecond)}/s, faster than the link: auto-converge will have to throttle it to converge."
                : $"Will not converge without auto-converge: the guest dirties {Display.Bytes((long)dirtyBytesPerSecond)}/s, faster than the {Display.Bytes(bandwidthBytesPerSecond)}/s link.";
        }

        var threshold = bandwidthBytesPerSecond * downtimeLimitMs / 1000.0;
        var pending = total;
        var passes = 1;
        while (pending * ratio > threshold && passes < 100)
        {
            pending *= ratio;
            passes++;
        }

        return passes >= 100
            ? "Converges only very slowly at this bandwidth and downtime limit."
            : $"Converges in about {passes} pass{(passes == 1 ? "" : "es")} (dirty rate {Display.Bytes((long)dirtyBytesPerSecond)}/s against {Display.Bytes(bandwidthBytesPerSecond)}/s).";
    }
}
