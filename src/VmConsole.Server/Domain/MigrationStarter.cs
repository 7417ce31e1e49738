using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Driver;

namespace VmConsole.Server.Domain;

/// <summary>
/// Starts a migration of any VM to a host of this console, by the path its source and destination drivers have: the
/// engine between emulator hosts, QEMU to QEMU over QMP between QEMU hosts, and across drivers the engine's
/// QEMU-compatible sender into a QEMU the console starts or a QEMU source into the console's listener
/// (<see cref="CrossDriverMigrations"/>, DESIGN.md section 9). Migrations to a uri (a peer outside the console) are the
/// engine's.
/// </summary>
public sealed class MigrationStarter(VmInventory inventory, MigrationEngine engine, QemuDriver qemu, CrossDriverMigrations crossDriver)
{
    /// <exception cref="DomainException">Unknown VM or host, a host that is unavailable, no path between the drivers, or the driver's own refusals.</exception>
    public async Task<IMigration> StartAsync(MigrationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var vm = inventory.Get(request.Vm);
        if (request.DestinationHost is not { } hostName)
        {
            VmInventory.Require(vm, VmFeatures.Export, "Migrating to a uri (a peer outside the console)");
            return engine.Start(request);
        }

        var destination = inventory.GetHost(hostName);
        if (destination.UnavailableReason is { } reason)
        {
            throw DomainException.Conflict(ErrorCodes.HostUnavailable, $"Host '{destination.Name}' cannot run VMs: {reason}");
        }

        if (vm.Driver != destination.Driver && request.Uri is not null)
        {
            // Between drivers the console chooses the channel (a socket in a VM directory): a uri would go unused.
            throw DomainException.Invalid(
                ErrorCodes.InvalidUri,
                $"VM '{vm.Name}' moves from the {vm.Driver.ToApiName()} driver to {destination.Driver.ToApiName()} host '{destination.Name}' over a channel the console chooses: give no uri.",
                "uri");
        }

        return (vm.Driver, destination.Driver) switch
        {
            (DriverKind.Emulator, DriverKind.Emulator) => engine.Start(request),
            (DriverKind.Qemu, DriverKind.Qemu) => await qemu.MigrateAsync(request.Vm, hostName, request.Parameters, request.Capabilities, engine.Registry, cancellationToken).ConfigureAwait(false),
            (DriverKind.Emulator, DriverKind.Qemu) => await crossDriver.MigrateToQemuAsync(request.Vm, hostName, request.Parameters, request.Capabilities, cancellationToken).ConfigureAwait(false),
            (DriverKind.Qemu, DriverKind.Emulator) => await crossDriver.MigrateFromQemuAsync(request.Vm, hostName, request.Parameters, request.Capabilities, cancellationToken).ConfigureAwait(false),
            var (from, to) => throw DomainException.Conflict(
                ErrorCodes.NotSupportedByDriver,
                $"VM '{vm.Name}' runs on the {from.ToApiName()} driver and '{destination.Name}' is a {to.ToApiName()} host: no live migration path joins them."),
        };
    }
}
