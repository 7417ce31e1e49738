using System.Security.Cryptography;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Model;
using VmConsole.Migration.Qemu;
using VmConsole.Migration.Transports;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>
/// Accepts migrations and runs each on its own worker: console-to-console precopy (<see cref="Start"/>) and migrations
/// received from a real QEMU (<see cref="ReceiveFromQemu"/>). Every accepted migration is in <see cref="Registry"/>.
/// A precopy migration is accepted (state <c>setup</c>) only once it holds the source VM's lease, so the migratable
/// set is frozen from that moment until its worker has quit.
/// </summary>
public sealed class MigrationEngine(Emulator emulator, TimeProvider? time = null, MigrationRegistry? registry = null) : IAsyncDisposable
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Every migration this engine accepted, and those of any other kind registered in the same registry.</summary>
    public MigrationRegistry Registry { get; } = registry ?? new MigrationRegistry();

    /// <summary>Test seams (see <see cref="MigrationHooks"/>); null hooks in production.</summary>
    internal MigrationHooks Hooks { get; } = new();

    public PrecopyMigration Start(MigrationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Parameters.Validate();
        request.Capabilities.Validate();
        if (request.PeerHost is not null && (request.Uri is null || request.DestinationHost is not null))
        {
            throw new ArgumentException("A peer host listens on the request's URI, outside this engine: it goes with a URI and no destination host.", nameof(request));
        }

        if (request.DestinationHost is null && request.Uri is null)
        {
            throw DomainException.Invalid(ErrorCodes.DestinationNeeded, "A migration needs a destination host, a URI, or both.");
        }

        var uri = request.Uri is null ? null : MigrationUri.Parse(request.Uri);
        if (uri is { Kind: TransportKind.File } && request.DestinationHost is not null)
        {
            // A destination host of this server reads the stream as it comes; a file is written, not listened on.
            throw DomainException.Invalid(
                ErrorCodes.FileWithDestinationHost,
                $"'{Names.Shorten(request.Uri!)}' is a file: a migration to destination host '{Names.Shorten(request.DestinationHost)}' goes through unix:, tcp: or no URI.");
        }

        if (uri is { Kind: TransportKind.File } && request.Capabilities.Multifd)
        {
            // QEMU's words (multifd_save_setup): its channels are more connections to the same address, which a file is not.
            throw DomainException.Invalid(
                ErrorCodes.MultifdNotSupportedByProtocol,
                $"multifd is not supported by current protocol: '{Names.Shorten(request.Uri!)}' is a file; multifd needs unix:, tcp: or a destination host of this console.",
                field: "multifd");
        }

        var vm = emulator.GetVm(request.Vm);
        var destinationHost = request.DestinationHost is null ? null : emulator.GetHost(request.DestinationHost);
        if (destinationHost == vm.Host)
        {
            throw DomainException.Conflict(ErrorCodes.SameHost, $"VM '{vm.Name}' already runs on host '{vm.Host.Name}'.");
        }

        CheckRunning(vm);
        var total = vm.RamBlocks.Where(b => b.Migratable).Sum(b => b.UsedLength);
        var migration = new PrecopyMigration(NewId(), vm, destinationHost?.Name ?? request.PeerHost, uri?.ToString(), request.Parameters, request.Capabilities, total, _time);
        var lease = vm.Freeze.Acquire(migration);
        Vm? destination = null;
        Emulation.Freeze.MigrationLease? destinationLease = null;
        try
        {
            // Again under the lease: a shutdown that ended between the check above and the lease shows here (one that
            // starts after the lease cancels this migration instead).
            CheckRunning(vm);
            if (destinationHost is not null)
            {
                destination = CreateDestination(vm, destinationHost.Name);
                destinationLease = destination.Freeze.Acquire(migration);
                destination.TryChangeRunState(RunState.Prelaunch, RunState.InMigrate);
            }
        }
        catch
        {
            destinationLease?.Dispose();
            if (destination is not null)
            {
                emulator.DiscardIncoming(destination);
            }

            lease.Dispose();
            throw;
        }

        Registry.Add(migration);
        var run = new MigrationRun(migration, emulator, lease, destination, destinationLease, uri, request.QemuCompatible, request.PeerLoaded, Hooks, _time);
        _ = Task.Run(run.RunAsync);
        return migration;
    }

    /// <summary>
    /// A migration from a real QEMU: creates VM <paramref name="name"/> in <c>inmigrate</c> on <paramref name="host"/>,
    /// listening on <paramref name="uri"/> (bound before this returns, so QEMU may <c>migrate</c> at once).
    /// </summary>
    /// <exception cref="DomainException">
    /// Invalid or taken name, unknown host, a URI that is not unix: or loopback tcp:, or an address in use.
    /// </exception>
    /// <param name="sourceHost">The console's QEMU host the VM leaves, if it is one (null: a QEMU outside the console).</param>
    /// <param name="capabilities">The source's postcopy-ram and x-ignore-shared, as a QEMU destination is told them.</param>
    public QemuIncomingMigration ReceiveFromQemu(string name, string host, string uri, string? sourceHost = null, IncomingCapabilities? capabilities = null) =>
        QemuIncomingMigration.Listen(emulator, Registry, name, host, uri, _time, sourceHost, capabilities);

    /// <summary>
    /// Cancels the migrations this engine runs (they live in this process); others in the registry, such as QEMU-to-QEMU
    /// migrations between processes that outlive the console, go on.
    /// </summary>
    public async ValueTask DisposeAsync() =>
        await Registry.CancelAllAsync(TimeSpan.FromSeconds(30), _time, m => m is PrecopyMigration or Qemu.QemuIncomingMigration).ConfigureAwait(false);

    /// <summary>The destination half: the same machine, memory, backends, devices and migratable flags, in inmigrate.</summary>
    private Vm CreateDestination(Vm source, string host)
    {
        var destination = emulator.CreateIncomingVm(source.Definition with { Host = host, Workload = WorkloadSpec.Idle });
        try
        {
            foreach (var backend in source.RamBlocks.Where(b => b.BackendId is not null))
            {
                destination.AddMemoryBackend(backend.BackendId!, backend.UsedLength);
            }

            foreach (var device in source.Devices)
            {
                destination.PlugDimm(device.Id, device.Memdev);
            }

            foreach (var block in source.RamBlocks)
            {
                var twin = destination.RamBlocks.First(b => b.BackendId is null ? b.IdStr == block.IdStr && block.BackendId is null : b.BackendId == block.BackendId);
                if (twin.Migratable != block.Migratable)
                {
                    destination.SetMigratable(twin.Id, block.Migratable);
                }
            }

            return destination;
        }
        catch
        {
            emulator.DiscardIncoming(destination);
            throw;
        }
    }

    /// <summary>A VM in finish-migrate passes: its migration holds the freeze, whose refusal names that migration.</summary>
    private static void CheckRunning(Vm vm)
    {
        if (vm.RunState is not (RunState.Running or RunState.Paused or RunState.FinishMigrate))
        {
            throw DomainException.Conflict(ErrorCodes.VmNotRunning, $"VM '{vm.Name}' is {vm.RunState.ToQemuName()}; only a running or paused VM can migrate.");
        }
    }

    private static string NewId() => "mig-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
}
