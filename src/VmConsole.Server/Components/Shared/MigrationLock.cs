using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Model;

namespace VmConsole.Server.Components.Shared;

/// <summary>
/// The migration that holds a VM's migratable-set freeze, as the UI names it, links to it and explains what it locks
/// (DESIGN.md section 3). The emulated VM's lease names its holder; a QEMU VM's is the registry's active migration.
/// </summary>
/// <param name="MigrationId">The holder's id; null when the VM is frozen by a migration the registry does not know.</param>
/// <param name="Status">The holder's state when it was read.</param>
/// <param name="Destination">Where the VM goes: a host of this console, or the peer's URI; null when not known.</param>
public sealed record MigrationLock(string? MigrationId, MigrationStatus? Status, string? Destination)
{
    /// <summary>The lock on <paramref name="vm"/> now, or null when no migration holds its freeze.</summary>
    public static MigrationLock? Of(IVirtualMachine vm, Vm? emulated, MigrationRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(registry);
        if (!vm.Frozen)
        {
            return null;
        }

        if (emulated?.Freeze.Lease is { } lease)
        {
            var held = registry.Find(lease.Holder.MigrationId);
            return new(lease.Holder.MigrationId, lease.Holder.Status, held is null ? null : DestinationOf(held));
        }

        return registry.ActiveFor(vm.Name) is { } active ? new(active.Id, active.Status, DestinationOf(active)) : new(null, null, null);
    }

    /// <summary>Where an outgoing migration takes its VM: the console's host, else the peer's URI.</summary>
    public static string DestinationOf(IMigration migration)
    {
        ArgumentNullException.ThrowIfNull(migration);
        return migration.DestinationHost ?? migration.Uri ?? "a peer outside the console";
    }

    /// <summary>The migration's page, when the holder is known.</summary>
    public string? Href => MigrationId is null ? null : $"migrations/{MigrationId}";

    /// <summary>Why <paramref name="operation"/> is locked, in a sentence for its tooltip.</summary>
    public string Reason(string operation) => MigrationId is null
        ? $"Locked while a migration runs: {operation} would change the set of migratable RAM blocks, which is frozen until it ends."
        : $"Locked while migration {MigrationId} is {Status?.ToQemuName()}: {operation} would change the set of migratable RAM blocks, which is frozen until it ends.";
}
