using VmConsole.Emulation;
using Host = VmConsole.Emulation.Hosts.Host;
using VmConsole.Emulation.Vms;

namespace VmConsole.Server.Components.Shared;

/// <summary>
/// What can be known before a migration starts: whether the destination can hold the VM, whether the name is free
/// there, whether the block layout can be rebuilt, and whether precopy can converge at the chosen bandwidth.
/// </summary>
public static class MigrationPrecheck
{
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
    public static string Estimate(Vm vm, long bandwidthBytesPerSecond, long downtimeLimitMs, bool autoConverge)
    {
        var dirtyBytesPerSecond = vm.RamBlocks.Where(b => b.Migratable).Sum(b => b.DirtyPagesPerSecond * b.PageSize);
        var total = (double)vm.RamBlocks.Where(b => b.Migratable).Sum(b => b.UsedLength);
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
