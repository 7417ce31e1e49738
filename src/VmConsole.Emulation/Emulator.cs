using System.Collections.Immutable;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Hosts;
using VmConsole.Emulation.Vms;

namespace VmConsole.Emulation;

/// <summary>
/// The emulator core's inventory: hosts and the VMs on them. VM names are unique across all hosts.
/// </summary>
public sealed partial class Emulator : IDisposable
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;

    // Written under _gate; the views are replaced whole, read without it.
    private ImmutableSortedDictionary<string, Host> _hosts = ImmutableSortedDictionary<string, Host>.Empty.WithComparers(StringComparer.Ordinal);
    private ImmutableSortedDictionary<string, Vm> _vms = ImmutableSortedDictionary<string, Vm>.Empty.WithComparers(StringComparer.Ordinal);

    // Written under _gate: VMs being received by a migration, not yet known by name.
    private ImmutableHashSet<Vm> _incoming = [];

    // Written under _gate; replaced whole, read without it. Names held by VMs arriving from outside the server; a name
    // is in _vms or here, never both.
    private ImmutableSortedDictionary<string, ArrivingVm> _arriving = ImmutableSortedDictionary<string, ArrivingVm>.Empty.WithComparers(StringComparer.Ordinal);

    public Emulator(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    public event Action<InventoryChangeKind, string>? InventoryChanged;

    /// <summary>How long shutting down or deleting a VM waits for its migration to let go (given to every VM created here).</summary>
    public TimeSpan TeardownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public IReadOnlyList<Host> Hosts => [.. _hosts.Values];

    public IReadOnlyList<Vm> Vms => [.. _vms.Values];

    public Host AddHost(string name, long capacityBytes)
    {
        var host = new Host(name, capacityBytes);
        lock (_gate)
        {
            if (_hosts.ContainsKey(name))
            {
                throw DomainException.Conflict(ErrorCodes.HostExists, $"A host named '{name}' already exists.");
            }

            _hosts = _hosts.Add(name, host);
        }

        InventoryChanged?.Invoke(InventoryChangeKind.HostAdded, name);
        return host;
    }

    public Host GetHost(string name) =>
        _hosts.GetValueOrDefault(name ?? "")
        ?? throw DomainException.NotFound(ErrorCodes.HostNotFound, $"No host named '{Names.Shorten(name)}'.");

    /// <summary>VMs arriving from outside the server, in <c>inmigrate</c> until their migration completes, by name.</summary>
    public IReadOnlyList<ArrivingVm> Arriving => [.. _arriving.Values];

    /// <summary>The VM named <paramref name="name"/>.</summary>
    /// <exception cref="DomainException">No such VM (404), or it is still arriving by a migration (409 <c>vm-inmigrate</c>): nothing can be done to it yet.</exception>
    public Vm GetVm(string name) =>
        _vms.GetValueOrDefault(name ?? "")
        ?? (_arriving.TryGetValue(name ?? "", out var arriving) ? throw ArrivingConflict(arriving)
        : throw DomainException.NotFound(ErrorCodes.VmNotFound, $"No VM named '{Names.Shorten(name)}'."));

    public bool TryGetVm(string name, out Vm vm) => _vms.TryGetValue(name, out vm!);

    public bool TryGetArriving(string name, out ArrivingVm arriving) => _arriving.TryGetValue(name, out arriving!);

    /// <summary>Whether a VM, or a VM arriving by a migration, has this name.</summary>
    public bool IsNameTaken(string name) => _vms.ContainsKey(name) || _arriving.ContainsKey(name);

    /// <summary>
    /// Takes <paramref name="name"/> for a VM a migration from outside the server will bring to <paramref name="host"/>:
    /// it is listed in <c>inmigrate</c> from now on, and every action on it is refused until the migration ends.
    /// </summary>
    /// <exception cref="DomainException">Invalid or taken name, or unknown host.</exception>
    public ArrivingVm ReserveArriving(string name, string host)
    {
        Names.ValidateName(name, "VM");
        var arriving = new ArrivingVm(name, GetHost(host));
        lock (_gate)
        {
            if (_vms.ContainsKey(name) || _arriving.ContainsKey(name))
            {
                throw DomainException.Conflict(ErrorCodes.VmExists, $"A VM named '{name}' already exists.");
            }

            _arriving = _arriving.Add(name, arriving);
        }

        InventoryChanged?.Invoke(InventoryChangeKind.VmArriving, name);
        return arriving;
    }

    /// <summary>Shows the VM the stream's RAM setup made (made with <see cref="CreateIncomingVm"/>) as what <paramref name="arriving"/> is so far.</summary>
    public void AttachReceived(ArrivingVm arriving, Vm vm)
    {
        ArgumentNullException.ThrowIfNull(arriving);
        ArgumentNullException.ThrowIfNull(vm);
        lock (_gate)
        {
            if (!_incoming.Contains(vm) || vm.Name != arriving.Name || !_arriving.TryGetValue(arriving.Name, out var current) || current != arriving)
            {
                throw new InvalidOperationException($"VM '{vm.Name}' is not being received for this arriving VM.");
            }

            arriving.Attach(vm);
        }

        InventoryChanged?.Invoke(InventoryChangeKind.VmArriving, arriving.Name);
    }

    /// <summary>Frees the name of a VM that will not arrive (its migration failed or was cancelled). Does nothing if it is no longer arriving.</summary>
    public void ReleaseArriving(ArrivingVm arriving)
    {
        ArgumentNullException.ThrowIfNull(arriving);
        lock (_gate)
        {
            if (!_arriving.TryGetValue(arriving.Name, out var current) || current != arriving)
            {
                return;
            }

            _arriving = _arriving.Remove(arriving.Name);
        }

        InventoryChanged?.Invoke(InventoryChangeKind.VmRemoved, arriving.Name);
    }

    private static DomainException ArrivingConflict(ArrivingVm arriving) => DomainException.Conflict(
        ErrorCodes.VmInmigrate,
        $"VM '{arriving.Name}' is inmigrate: a migration is bringing it to {arriving.Host.Name}. Nothing can be done to it until the migration completes; cancel the migration to drop it.");

    public IReadOnlyList<Vm> VmsOn(Host host) => [.. _vms.Values.Where(v => v.Host == host)];

    /// <summary>VMs being received on a host (in <c>inmigrate</c>), which have no name in the inventory yet.</summary>
    public IReadOnlyList<Vm> IncomingOn(Host host) => [.. _incoming.Where(v => v.Host == host)];

    /// <summary>
    /// Creates the destination half of a migration: a VM on <paramref name="definition"/>'s host that reserves its
    /// memory there but is not known by name until <see cref="CommitMigration"/>.
    /// </summary>
    public Vm CreateIncomingVm(VmDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var host = GetHost(definition.Host);
        var vm = new Vm(definition with { Start = false }, host, _time) { TeardownTimeout = TeardownTimeout };
        lock (_gate)
        {
            _incoming = _incoming.Add(vm);
        }

        return vm;
    }

    /// <summary>
    /// Hands the name over from the source VM to the VM a migration received; the source leaves the inventory
    /// (the caller disposes it once its migration has let go of it).
    /// </summary>
    public void CommitMigration(Vm source, Vm destination)
    {
        lock (_gate)
        {
            if (!_incoming.Contains(destination) || !_vms.TryGetValue(source.Name, out var current) || current != source || source.Name != destination.Name)
            {
                throw new InvalidOperationException($"Cannot hand '{source.Name}' over to a VM that is not its incoming half.");
            }

            _incoming = _incoming.Remove(destination);
            _vms = _vms.SetItem(destination.Name, destination);
        }

        InventoryChanged?.Invoke(InventoryChangeKind.VmMoved, destination.Name);
    }

    /// <summary>
    /// Gives a VM received from outside the server (an imported stream file, a migration from QEMU) its name in the
    /// inventory; with <paramref name="arriving"/>, the VM takes over the name that arriving VM held. Refused when the
    /// name was taken while it was being received; the caller then discards it.
    /// </summary>
    public void CommitIncoming(Vm vm, ArrivingVm? arriving = null)
    {
        ArgumentNullException.ThrowIfNull(vm);
        lock (_gate)
        {
            if (!_incoming.Contains(vm) || (arriving is not null && arriving.Name != vm.Name))
            {
                throw new InvalidOperationException($"VM '{vm.Name}' is not being received.");
            }

            var holds = arriving is not null && _arriving.TryGetValue(vm.Name, out var current) && current == arriving;
            if (_vms.ContainsKey(vm.Name) || (_arriving.ContainsKey(vm.Name) && !holds))
            {
                throw DomainException.Conflict(ErrorCodes.VmExists, $"A VM named '{vm.Name}' already exists.");
            }

            if (holds)
            {
                _arriving = _arriving.Remove(vm.Name);
            }

            _incoming = _incoming.Remove(vm);
            _vms = _vms.Add(vm.Name, vm);
        }

        InventoryChanged?.Invoke(InventoryChangeKind.VmAdded, vm.Name);
    }

    /// <summary>Throws away a half-received VM after a failed or cancelled migration, freeing its memory.</summary>
    public void DiscardIncoming(Vm destination)
    {
        lock (_gate)
        {
            _incoming = _incoming.Remove(destination);
        }

        destination.Dispose();
    }

    /// <summary>Creates a VM on its host; refused when the name is taken or the host lacks the memory.</summary>
    public Vm CreateVm(VmDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        Names.ValidateName(definition.Name, "VM");
        var host = GetHost(definition.Host);
        Vm vm;
        lock (_gate)
        {
            if (_vms.ContainsKey(definition.Name) || _arriving.ContainsKey(definition.Name))
            {
                throw DomainException.Conflict(ErrorCodes.VmExists, $"A VM named '{definition.Name}' already exists.");
            }

            vm = new Vm(definition, host, _time) { TeardownTimeout = TeardownTimeout };
            _vms = _vms.Add(vm.Name, vm);
        }

        if (definition.Start)
        {
            vm.Start();
        }

        InventoryChanged?.Invoke(InventoryChangeKind.VmAdded, vm.Name);
        return vm;
    }

    /// <summary>
    /// Deletes a VM: a migration holding its lease is cancelled and waited for (bounded), then its
    /// workload stops and its memory is freed. Teardown never trips the freeze.
    /// </summary>
    public async Task DeleteVmAsync(string name, CancellationToken cancellationToken = default)
    {
        // A migration past its point of no return cannot be cancelled: while the delete waits for it, the name
        // moves to the destination. Then the delete follows it there, and never removes a VM it did not quiesce.
        for (var attempt = 0; ; attempt++)
        {
            var vm = GetVm(name);
            try
            {
                await vm.QuiesceForDeleteAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DomainException ex) when (ex.Code == ErrorCodes.VmNotFound && attempt < 3)
            {
                continue;
            }

            bool removed;
            lock (_gate)
            {
                removed = _vms.TryGetValue(name, out var current) && current == vm;
                if (removed)
                {
                    _vms = _vms.Remove(name);
                }
            }

            if (!removed)
            {
                if (attempt < 3)
                {
                    continue;
                }

                throw DomainException.Conflict(ErrorCodes.VmMoving, $"VM '{name}' kept moving while it was being deleted; try again.");
            }

            vm.Dispose();
            InventoryChanged?.Invoke(InventoryChangeKind.VmRemoved, vm.Name);
            return;
        }
    }

    /// <summary>Updates every block's dirty pages per second from the writes since the last call.</summary>
    public void SampleDirtyRates()
    {
        foreach (var vm in _vms.Values)
        {
            vm.SampleDirtyRate();
        }
    }

    public void Dispose()
    {
        foreach (var vm in _vms.Values.Concat(_incoming))
        {
            vm.Dispose();
        }
    }
}
