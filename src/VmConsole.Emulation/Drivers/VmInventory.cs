using VmConsole.Emulation.Vms;

namespace VmConsole.Emulation.Drivers;

/// <summary>
/// Every host and VM the console manages, of every driver: the one registry that answers "all", "by name" and "which
/// driver has this host", and routes create and delete to it. Names are unique across drivers.
/// </summary>
public sealed class VmInventory
{
    private readonly IReadOnlyList<IVmDriver> _drivers;
    // Held across the name check and the driver's create, so two drivers never both take one name.
    private readonly SemaphoreSlim _createGate = new(1, 1);

    public VmInventory(IEnumerable<IVmDriver> drivers)
    {
        _drivers = [.. drivers];
        if (_drivers.Select(d => d.Kind).Distinct().Count() != _drivers.Count)
        {
            throw new ArgumentException("One driver of each kind.", nameof(drivers));
        }

        foreach (var driver in _drivers)
        {
            driver.InventoryChanged += (kind, name) => InventoryChanged?.Invoke(kind, name);
        }
    }

    /// <summary>Raised after any driver's host or VM is added, removed or moved.</summary>
    public event Action<InventoryChangeKind, string>? InventoryChanged;

    public IReadOnlyList<IVmDriver> Drivers => _drivers;

    public IReadOnlyList<IVmHost> Hosts => [.. _drivers.SelectMany(d => d.VmHosts)];

    public IReadOnlyList<IVirtualMachine> Vms => [.. _drivers.SelectMany(d => d.VirtualMachines)];

    public bool TryGet(string name, out IVirtualMachine vm)
    {
        foreach (var driver in _drivers)
        {
            if (driver.TryGetVirtualMachine(name, out vm))
            {
                return true;
            }
        }

        vm = null!;
        return false;
    }

    /// <exception cref="DomainException">404 <c>vm-not-found</c>, or the refusal of the driver that holds the name (e.g. 409 <c>vm-inmigrate</c>).</exception>
    public IVirtualMachine Get(string name) =>
        TryGet(name, out var vm) ? vm
        : _drivers.FirstOrDefault(d => d.IsNameTaken(name ?? ""))?.GetVirtualMachine(name!)
            ?? throw DomainException.NotFound(ErrorCodes.VmNotFound, $"No VM named '{Names.Shorten(name)}'.");

    /// <exception cref="DomainException">404 <c>host-not-found</c>.</exception>
    public IVmHost GetHost(string name) =>
        Hosts.FirstOrDefault(h => h.Name == name)
        ?? throw DomainException.NotFound(ErrorCodes.HostNotFound, $"No host named '{Names.Shorten(name)}'.");

    /// <summary>The driver that runs <paramref name="host"/>'s VMs.</summary>
    public IVmDriver DriverOf(IVmHost host) => _drivers.First(d => d.Kind == host.Driver);

    public bool IsNameTaken(string name) => _drivers.Any(d => d.IsNameTaken(name));

    /// <summary>
    /// Creates a VM on its host's driver: refused when the host does not exist, cannot run VMs now (with its reason), or
    /// the name is taken by a VM of any driver.
    /// </summary>
    public async Task<IVirtualMachine> CreateAsync(VmDefinition definition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        Names.ValidateName(definition.Name, "VM");
        var host = GetHost(definition.Host);
        if (host.UnavailableReason is { } reason)
        {
            throw DomainException.Conflict(ErrorCodes.HostUnavailable, $"Host '{host.Name}' cannot run VMs: {reason}");
        }

        var driver = DriverOf(host);
        await _createGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Each driver refuses its own duplicates; this refuses a name another driver holds.
            if (_drivers.Any(d => d != driver && d.IsNameTaken(definition.Name)))
            {
                throw DomainException.Conflict(ErrorCodes.VmExists, $"A VM named '{definition.Name}' already exists.");
            }

            return await driver.CreateVirtualMachineAsync(definition, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _createGate.Release();
        }
    }

    /// <summary>Deletes a VM of any driver (a migration it is in is cancelled first).</summary>
    public Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        var vm = Get(name);
        return _drivers.First(d => d.Kind == vm.Driver).DeleteVirtualMachineAsync(name, cancellationToken);
    }

    /// <summary>Refuses, as data, what <paramref name="vm"/>'s driver cannot do: 409 <c>not-supported-by-driver</c>.</summary>
    public static void Require(IVirtualMachine vm, VmFeatures feature, string what)
    {
        ArgumentNullException.ThrowIfNull(vm);
        if (!vm.Features.HasFlag(feature))
        {
            throw DomainException.Conflict(ErrorCodes.NotSupportedByDriver, $"{NotSupported(vm, what)}.");
        }
    }

    /// <summary>How the console says that <paramref name="vm"/>'s driver cannot do <paramref name="what"/> (no final stop).</summary>
    public static string NotSupported(IVirtualMachine vm, string what)
    {
        ArgumentNullException.ThrowIfNull(vm);
        return $"{what} is not supported by the {vm.Driver.ToApiName()} driver that runs VM '{vm.Name}'";
    }
}
