using System.Collections.Immutable;
using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Guests;
using VmConsole.Qemu.Migrations;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Driver;

/// <summary>
/// The QEMU driver: its hosts and the VMs on them, each a real <c>qemu-system-x86_64</c> process driven over QMP
/// (DESIGN.md sections 9 and 10). Processes are started detached and outlive the console; <see cref="LoadAsync"/>
/// finds them again after a restart. QEMU runs in real time, so the driver's clock is always the system's.
/// </summary>
public sealed partial class QemuDriver : IVmDriver, IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly IReadOnlyList<QemuHost> _hosts;
    private readonly TimeSpan _teardownTimeout;

    // The migrations this driver follows until they end (added and removed by FollowAsync).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<QemuMigration, byte> _following = new();

    // Replaced whole under _gate; read without it.
    private ImmutableSortedDictionary<string, QemuDomain> _domains = ImmutableSortedDictionary<string, QemuDomain>.Empty.WithComparers(StringComparer.Ordinal);

    public QemuDriver(IEnumerable<QemuHostConfig> hosts, TimeSpan teardownTimeout)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        _teardownTimeout = teardownTimeout;
        var list = new List<QemuHost>();
        foreach (var config in hosts)
        {
            if (list.Any(h => h.Name == config.Name))
            {
                throw DomainException.Conflict(ErrorCodes.HostExists, $"A host named '{config.Name}' already exists.");
            }

            list.Add(new QemuHost(config, () => ReservedOn(config.Name), TimeProvider.System));
        }

        _hosts = list;
    }

    public event Action<InventoryChangeKind, string>? InventoryChanged;

    public DriverKind Kind => DriverKind.Qemu;

    public IReadOnlyList<QemuHost> Hosts => _hosts;

    public IReadOnlyList<QemuDomain> Domains => [.. _domains.Values];

    IReadOnlyList<IVmHost> IVmDriver.VmHosts => _hosts;

    IReadOnlyList<IVirtualMachine> IVmDriver.VirtualMachines => Domains;

    public bool TryGetVirtualMachine(string name, out IVirtualMachine vm)
    {
        var found = _domains.TryGetValue(name ?? "", out var domain);
        vm = domain!;
        return found;
    }

    public bool IsNameTaken(string name) => _domains.ContainsKey(name);

    IVirtualMachine IVmDriver.GetVirtualMachine(string name) => GetDomain(name);

    public QemuHost GetHost(string name) =>
        _hosts.FirstOrDefault(h => h.Name == name) ?? throw DomainException.NotFound(ErrorCodes.HostNotFound, $"No QEMU host named '{Names.Shorten(name)}'.");

    public QemuDomain GetDomain(string name) =>
        _domains.GetValueOrDefault(name ?? "") ?? throw DomainException.NotFound(ErrorCodes.VmNotFound, $"No QEMU VM named '{Names.Shorten(name)}'.");

    /// <summary>
    /// Defines a QEMU VM on one of this driver's hosts from the same definition as an emulated VM (machine, memory, slots
    /// and maxmem, guest program), checked before anything reaches QEMU; started when the definition says so.
    /// </summary>
    public async Task<IVirtualMachine> CreateVirtualMachineAsync(VmDefinition definition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var host = GetHost(definition.Host);
        host.RequireLauncher();
        if (definition.Workload.Kind != Emulation.Workloads.WorkloadKind.Idle)
        {
            throw DomainException.Invalid(
                ErrorCodes.NotSupportedByDriver,
                "A QEMU VM's memory is changed by its guest program (none or the sweep guest), not by a console-made workload.",
                "workload");
        }

        var spec = new QemuVmSpec(definition.Name, definition.Machine, definition.MemoryBytes)
        {
            Slots = definition.Slots,
            MaxMemBytes = definition.Slots > 0 ? definition.MaxMemBytes : 0,
            MainRamBackend = definition.MainRamBackend,
            NumaNodes = definition.NumaNodes,
            Guest = definition.Guest == GuestProgram.Sweep ? SweepGuest.For(definition.MemoryBytes) : null,
        };
        spec.Validate();
        if (host.ReservedBytes + spec.MemoryBytes > host.CapacityBytes)
        {
            throw DomainException.Conflict(
                ErrorCodes.HostCapacity,
                $"Host '{host.Name}' has {Sizes.Format(host.CapacityBytes - host.ReservedBytes)} free; VM '{spec.Name}' needs {Sizes.Format(spec.MemoryBytes)}.");
        }

        if (!IsNameTaken(spec.Name))
        {
            // A VM of this name that just left for another driver may still be quitting in the folder this one gets.
            await AwaitDepartedAsync(spec.Name, cancellationToken).ConfigureAwait(false);
        }

        var domain = new QemuDomain(definition.Id, host, spec, null, _teardownTimeout);
        lock (_gate)
        {
            if (_domains.ContainsKey(spec.Name))
            {
                throw DomainException.Conflict(ErrorCodes.VmExists, $"A VM named '{spec.Name}' already exists.");
            }

            _domains = _domains.Add(spec.Name, domain);
        }

        try
        {
            await domain.SaveAsync(cancellationToken).ConfigureAwait(false);
            if (definition.Start)
            {
                await domain.PowerAsync(PowerAction.Start, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            lock (_gate)
            {
                _domains = _domains.Remove(spec.Name);
            }

            RemoveDirectory(host.VmDirectory(spec.Name));
            throw;
        }

        InventoryChanged?.Invoke(InventoryChangeKind.VmAdded, domain.Name);
        return domain;
    }

    /// <summary>Deletes a QEMU VM: its migration is cancelled and waited for (bounded), its process ended, its directory removed.</summary>
    public async Task DeleteVirtualMachineAsync(string name, CancellationToken cancellationToken = default)
    {
        var domain = GetDomain(name);
        await domain.DestroyAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _domains = _domains.Remove(name);
        }

        RemoveDirectory(domain.Host.VmDirectory(name));
        InventoryChanged?.Invoke(InventoryChangeKind.VmRemoved, name);
    }

    /// <summary>
    /// Live-migrates a QEMU VM to another QEMU host (DESIGN.md section 10): the destination QEMU is started there with
    /// the same definition and <c>-incoming defer</c>, the migration is registered in <paramref name="registry"/>, and
    /// once QEMU reports <c>completed</c> the VM belongs to the destination host and its process is the destination's.
    /// </summary>
    public async Task<IMigration> MigrateAsync(
        string name, string destinationHost, MigrationParameters parameters, MigrationCapabilities capabilities, MigrationRegistry registry, CancellationToken cancellationToken = default)
    {
        var domain = GetDomain(name);
        var destination = GetHost(destinationHost);
        if (destination == domain.Host)
        {
            throw DomainException.Invalid(ErrorCodes.SameHost, $"VM '{name}' already runs on '{destinationHost}'.", "destinationHost");
        }

        var launcher = destination.RequireLauncher();

        // Straight back to the host it just left: the folder of its old QEMU there goes first.
        await AwaitDepartedAsync(name, cancellationToken).ConfigureAwait(false);
        if (domain.Running is not { } source)
        {
            throw DomainException.Conflict(ErrorCodes.VmNotRunning, $"VM '{name}' is shut off ({domain.StateReason}); only a running or paused VM can migrate.");
        }

        // The host it leaves, taken now: a fast migration moves the VM before FollowAsync first runs.
        var from = domain.Host;
        var arriving = ReserveArriving(destination, name, domain.ReservedBytes);
        var directory = destination.VmDirectory(name);
        QemuMigration migration;
        try
        {
            RemoveDirectory(directory);
            migration = await QemuMigration.StartAsync(
                source, domain.HostName, destination.Name, launcher, directory, parameters, capabilities, registry, TimeProvider.System, cancellationToken,
                arrived => CompleteMoveAsync(domain, arrived, destination, arriving)).ConfigureAwait(false);
        }
        catch
        {
            arriving.Dispose();
            throw;
        }

        try
        {
            await new QemuIncomingFile(migration.Id, name, domain.Id, domain.HostName, migration.Parameters, migration.Capabilities).SaveAsync(directory, CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // Only a restart mid-migration needs it; the migration itself goes on.
        }

        _ = FollowAsync(domain, migration, from, destination, arriving);
        return migration;
    }

    /// <summary>
    /// Lets go of every monitor; the processes keep running, and so do their migrations (the next console follows them
    /// again from their destinations' markers).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var migration in _following.Keys)
        {
            migration.LetGo();
        }

        foreach (var domain in _domains.Values)
        {
            await domain.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Called by a completing migration before it quits the source and says completed: the VM's process is the
    /// destination's and it belongs to the destination host from here on.
    /// </summary>
    private async Task CompleteMoveAsync(QemuDomain domain, QemuVm arrived, QemuHost destination, IDisposable arriving)
    {
        // The source quits and its folder goes (FollowAsync): no QEMU starts under the name until it has.
        BeginDeparture(domain.Name, domain.Host);
        await domain.MoveAsync(arrived, destination, keepOld: true).ConfigureAwait(false);

        // The VM counts on the destination host as its VM now; the marker of the arrival goes.
        arriving.Dispose();
        QemuIncomingFile.Delete(destination.VmDirectory(domain.Name));
        InventoryChanged?.Invoke(InventoryChangeKind.VmMoved, domain.Name);
    }

    private async Task FollowAsync(QemuDomain domain, QemuMigration migration, QemuHost from, QemuHost destination, IDisposable arriving)
    {
        _following.TryAdd(migration, 0);
        await migration.Finished.ConfigureAwait(false);
        _following.TryRemove(migration, out _);
        try
        {
            if (migration.Status == MigrationStatus.Completed && domain.Host == destination)
            {
                // Moved before completed was said (CompleteMoveAsync); the source has quit since, and its folder goes.
                RemoveDirectory(from.VmDirectory(domain.Name));
            }
            else
            {
                // The migration ended the destination QEMU; its directory (sockets, marker) goes too.
                arriving.Dispose();
                RemoveDirectory(destination.VmDirectory(domain.Name));
            }
        }
        finally
        {
            EndDeparture(domain.Name, from);
        }
    }

    private long ReservedOn(string host) => _domains.Values.Where(d => d.HostName == host && d.Running is not null).Sum(d => d.ReservedBytes) + ArrivingOn(host);

    private static void RemoveDirectory(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // A socket QEMU still holds: the next start or migration there replaces what it needs.
        }
    }
}
