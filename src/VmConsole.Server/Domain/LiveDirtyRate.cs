using VmConsole.Emulation.Drivers;
using VmConsole.Migration.Model;
using VmConsole.Server.Api;

namespace VmConsole.Server.Domain;

/// <summary>
/// How fast the guest of a migrating VM dirties its memory now, whatever the migration has synced: the same figure the
/// VM page shows (the emulator's dirty-rate sampler, or QEMU's <c>calc-dirty-rate</c>, measured on migrating QEMU VMs
/// too). QEMU's <c>dirty-pages-rate</c> of query-migrate is only known per dirty sync, so it is 0 for the whole first
/// pass; this one is there from the start.
/// </summary>
public static class LiveDirtyRate
{
    /// <summary>Pages per second of the VM <paramref name="migration"/> moves, on the host it leaves; null when not measured (a receiver, a VM not running here).</summary>
    public static double? PagesPerSecond(VmInventory inventory, IMigration migration) =>
        PagesPerSecond(inventory, migration.VmName, migration.SourceHost, migration.Direction);

    /// <summary>The same for a migration as the API and the pages see it.</summary>
    public static double? PagesPerSecond(VmInventory inventory, MigrationDto migration) =>
        PagesPerSecond(inventory, migration.Vm, migration.SourceHost, migration.Direction == MigrationDirection.Incoming.ToApiName() ? MigrationDirection.Incoming : MigrationDirection.Outgoing);

    private static double? PagesPerSecond(VmInventory inventory, string vmName, string sourceHost, MigrationDirection direction) =>
        direction == MigrationDirection.Incoming
            ? null
            : inventory.Vms.FirstOrDefault(v => v.Name == vmName && v.HostName == sourceHost)?.DirtyPagesPerSecond;
}
