using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Migration.Qemu;
using VmConsole.Migration.Wire;
using VmConsole.Qemu.Migrations;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Driver;

/// <summary>
/// Live migration between the two drivers, with the pieces that exist (DESIGN.md sections 9 and 11):
/// <list type="bullet">
/// <item>an emulated VM to a QEMU host: a destination QEMU is started there with the VM's machine, memory, backends and
/// pc-dimms and <c>-incoming defer -S</c>, checked to hold every migratable block, and the engine's QEMU-compatible
/// sender migrates into it. On completion the QEMU process is the VM (same id and name; <c>cont</c> if the VM was
/// running), and the emulated source leaves the emulator. A VM that came from QEMU carries its CPU and device state
/// back (the sender ends the stream with it), so the guest goes on where it stopped; a VM made here has none, so QEMU
/// boots it from reset; its memory arrives either way.</item>
/// <item>a QEMU VM to an emulator host: the console listens (<see cref="MigrationEngine.ReceiveFromQemu"/>) in the
/// source's runtime directory and the source QEMU <c>migrate</c>s into it, its migratable set held from before the
/// first command until the end. On completion the VM is an emulated VM (its device state kept verbatim) and the source,
/// in postmigrate, is quit; otherwise the source runs on as it was and the arriving VM is discarded.</item>
/// </list>
/// The migration returned is the engine's own, registered in its registry; the name passes from one driver to the
/// other once it has finished.
/// </summary>
public sealed partial class CrossDriverMigrations(Emulator emulator, MigrationEngine engine, QemuDriver qemu)
{
    /// <summary>The socket the destination QEMU listens on, in its VM directory.</summary>
    public const string IncomingSocket = "incoming.sock";

    /// <summary>The socket the console listens on for a QEMU source, in the source's VM directory.</summary>
    public const string OutgoingSocket = "outgoing.sock";

    private static readonly TimeSpan EndTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Migrates emulated VM <paramref name="name"/> to QEMU host <paramref name="destinationHost"/>; returns once the
    /// destination QEMU listens and the engine has accepted the migration.
    /// </summary>
    /// <exception cref="DomainException">
    /// The VM is not running or paused, the host is unknown, unavailable or too small, QEMU did not start, or 409
    /// <c>layout-mismatch</c> naming the first block QEMU's machine could not load; the engine's own refusals.
    /// </exception>
    public async Task<IMigration> MigrateToQemuAsync(
        string name, string destinationHost, MigrationParameters parameters, MigrationCapabilities capabilities, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(capabilities);
        parameters.Validate();
        capabilities.Validate();
        var vm = emulator.GetVm(name);
        var host = qemu.GetHost(destinationHost);
        var launcher = host.RequireLauncher();
        if (vm.RunState is not (RunState.Running or RunState.Paused or RunState.FinishMigrate))
        {
            throw DomainException.Conflict(ErrorCodes.VmNotRunning, $"VM '{vm.Name}' is {vm.RunState.ToQemuName()}; only a running or paused VM can migrate.");
        }

        var spec = CrossDriverLayout.SpecFor(vm) with { Incoming = true, Paused = true };
        spec.Validate();
        var needed = spec.MemoryBytes + spec.Backends.Sum(b => b.SizeBytes);

        // A QEMU VM of this name that just left for the emulator may still be quitting in the folder the destination
        // gets: its name is free for a new QEMU here only once that QEMU has quit and the folder is gone.
        await qemu.AwaitDepartedAsync(vm.Name, cancellationToken).ConfigureAwait(false);
        if (qemu.IsNameTaken(vm.Name))
        {
            throw DomainException.Conflict(ErrorCodes.VmExists, $"A QEMU VM named '{vm.Name}' already exists.");
        }

        // Counted on the host from here until the QEMU is the VM there or is gone.
        var arriving = qemu.ReserveArriving(host, vm.Name, needed);

        var directory = host.VmDirectory(vm.Name);
        QemuDriver.RemoveVmDirectory(directory);
        QemuVm destination;
        try
        {
            destination = await QemuVm.StartAsync(launcher, spec, directory, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        }
        catch (QemuStartException ex)
        {
            arriving.Dispose();
            QemuDriver.RemoveVmDirectory(directory);
            throw DomainException.Conflict(ErrorCodes.QemuStartFailed, ex.Message);
        }
        catch
        {
            arriving.Dispose();
            QemuDriver.RemoveVmDirectory(directory);
            throw;
        }

        PrecopyMigration migration;
        try
        {
            if (CrossDriverLayout.FirstMismatch(vm, await destination.RamBlocksAsync(cancellationToken).ConfigureAwait(false)) is { } mismatch)
            {
                throw DomainException.Conflict(
                    ErrorCodes.LayoutMismatch,
                    $"VM '{vm.Name}' cannot migrate to QEMU host '{host.Name}': {mismatch}. QEMU would refuse the stream.");
            }

            var uri = $"unix:{Path.Combine(directory, IncomingSocket)}";
            // A QEMU destination is told what changes how the stream reads: multifd (its channels) and their compression.
            await destination.RunAsync(
                "migrate-set-capabilities", QemuMigrationParameters.Capabilities(MigrationCapabilities.Default with { Multifd = capabilities.Multifd }), cancellationToken).ConfigureAwait(false);
            if (capabilities.Multifd)
            {
                await destination.RunAsync("migrate-set-parameters", QemuMigrationParameters.Destination(parameters), cancellationToken).ConfigureAwait(false);
            }

            await destination.RunAsync("migrate-incoming", new Dictionary<string, object> { ["uri"] = uri }, cancellationToken).ConfigureAwait(false);
            migration = engine.Start(new MigrationRequest(vm.Name)
            {
                Uri = uri,
                PeerHost = host.Name,
                QemuCompatible = true,
                Parameters = parameters,
                Capabilities = capabilities,
                PeerLoaded = _ => RequireIncomingCompletedAsync(destination, host),
            });
        }
        catch
        {
            await DiscardAsync(destination, directory).ConfigureAwait(false);
            arriving.Dispose();
            throw;
        }

        _ = Task.Run(async () =>
        {
            using (arriving)
            {
                await FinishToQemuAsync(vm, migration, destination, host, directory).ConfigureAwait(false);
            }
        });
        return migration;
    }

    /// <summary>
    /// Migrates QEMU VM <paramref name="name"/> to emulator host <paramref name="destinationHost"/>; returns once the
    /// console listens and the source QEMU has accepted <c>migrate</c>.
    /// </summary>
    /// <exception cref="DomainException">
    /// The VM is shut off or held by another migration, the host is unknown, a capability the console's listener cannot
    /// take (pause-before-switchover: 400 <c>unsupported-capability</c>), or QEMU's refusal. postcopy-ram is
    /// taken for a migration that stays precopy (the console never starts postcopy).
    /// </exception>
    public async Task<IMigration> MigrateFromQemuAsync(
        string name, string destinationHost, MigrationParameters parameters, MigrationCapabilities capabilities, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(capabilities);
        parameters.Validate();
        RefuseUnreceivable(capabilities);
        var domain = qemu.GetDomain(name);
        emulator.GetHost(destinationHost);
        if (domain.Running is not { } source || source.RunState is not (RunState.Running or RunState.Paused or RunState.FinishMigrate))
        {
            throw DomainException.Conflict(ErrorCodes.VmNotRunning, $"VM '{name}' is {domain.RunState.ToQemuName()}; only a running or paused VM can migrate.");
        }

        var uri = $"unix:{Path.Combine(source.RuntimeDirectory, OutgoingSocket)}";
        TryDelete(Path.Combine(source.RuntimeDirectory, OutgoingSocket));
        var incoming = engine.ReceiveFromQemu(
            name,
            destinationHost,
            uri,
            domain.HostName,
            new IncomingCapabilities(PostcopyRam: capabilities.PostcopyRam, Multifd: capabilities.Multifd, MultifdChannels: parameters.MultifdChannels, MultifdCompression: parameters.MultifdCompression));
        try
        {
            // Held before the first command goes to the source, until the end is cleaned up (DESIGN.md section 3).
            source.Memory.Hold(incoming);
        }
        catch
        {
            await CancelIncomingAsync(incoming).ConfigureAwait(false);
            throw;
        }

        // From here until the source has quit and its folder is gone (or it runs on here), no QEMU starts under the name.
        var departure = qemu.BeginDeparture(name, domain.Host);
        var wasRunning = source.RunState == RunState.Running;
        try
        {
            await SetUpSourceAsync(source, parameters, capabilities, cancellationToken).ConfigureAwait(false);
            await source.RunAsync("migrate", new Dictionary<string, object> { ["uri"] = uri }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await CancelIncomingAsync(incoming).ConfigureAwait(false);
            source.Memory.Release(incoming);
            departure.Dispose();
            throw;
        }

        _ = Task.Run(async () =>
        {
            using (departure)
            {
                await FinishFromQemuAsync(domain, source, incoming, wasRunning).ConfigureAwait(false);
            }
        });
        return incoming;
    }

    /// <summary>
    /// After the engine's migration has finished: the destination QEMU becomes the VM (running if the VM was), or is
    /// ended and its directory removed.
    /// </summary>
    private async Task FinishToQemuAsync(Vm source, PrecopyMigration migration, QemuVm destination, QemuHost host, string directory)
    {
        await migration.Finished.ConfigureAwait(false);

        // What the guest was doing when the engine stopped it (finish-migrate) to switch over.
        var wasRunning = migration.StoppedFrom == RunState.Running;
        if (migration.Status != MigrationStatus.Completed)
        {
            // Completed only once QEMU had loaded the stream (RequireIncomingCompletedAsync); otherwise the source is the VM still.
            await DiscardAsync(destination, directory).ConfigureAwait(false);
            return;
        }

        try
        {
            if (wasRunning)
            {
                // Started with -S, QEMU stays paused after the incoming migration; the VM was running at switchover.
                await destination.RunAsync("cont", null, CancellationToken.None).ConfigureAwait(false);
            }

            await destination.RefreshAsync().ConfigureAwait(false);
        }
        catch (DomainException)
        {
            // It went away meanwhile: the domain shows it as shut off, with the reason.
        }

        var domain = QemuDomain.Adopting(source.Id, host, destination, qemu.TeardownTimeout);
        try
        {
            // Written before the VM is listed: whoever sees it here (and may migrate it on at once) finds its definition
            // on disk, and no late write lands in a folder it has left since.
            await domain.SaveAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The next change writes it again; the running process is what counts meanwhile.
        }

        try
        {
            qemu.AddArrived(domain);
        }
        catch (DomainException)
        {
            // A QEMU VM took the name meanwhile (only a direct driver call can): the emulated VM stays the VM.
            source.TryChangeRunState(RunState.PostMigrate, wasRunning ? RunState.Running : RunState.Paused);
            await DiscardAsync(destination, directory).ConfigureAwait(false);
            return;
        }

        try
        {
            // The emulator lets go of the name (it says removed), then the QEMU driver says the VM is here: the name is never free.
            await emulator.DeleteVmAsync(source.Name).ConfigureAwait(false);
        }
        catch (DomainException)
        {
            // Deleted meanwhile by someone else: nothing is left to let go of.
        }

        qemu.RaiseArrived(domain.Name);
    }

    /// <summary>Returns once the destination QEMU has loaded the whole stream; fails the engine's migration with QEMU's reason when it has not.</summary>
    private static async Task RequireIncomingCompletedAsync(QemuVm destination, QemuHost host)
    {
        if (!await IncomingCompletedAsync(destination).ConfigureAwait(false))
        {
            var reason = destination.ExitReason ?? "its incoming migration did not complete";
            throw new MigrationFailedException($"The destination QEMU on host '{host.Name}' did not load the stream: {reason}. The VM runs on here.");
        }
    }

    /// <summary>Whether the destination QEMU has loaded the whole stream (waits, bounded, while it still loads).</summary>
    private static async Task<bool> IncomingCompletedAsync(QemuVm destination)
    {
        var started = TimeProvider.System.GetTimestamp();
        try
        {
            while (TimeProvider.System.GetElapsedTime(started) < EndTimeout)
            {
                switch (QemuMigrationStats.Status(await destination.RunAsync("query-migrate", null, CancellationToken.None).ConfigureAwait(false)))
                {
                    case MigrationStatus.Completed:
                        return true;
                    case MigrationStatus.Failed or MigrationStatus.Cancelled:
                        return false;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(20)).ConfigureAwait(false);
            }
        }
        catch (DomainException)
        {
            // A destination that refused the stream exits.
        }

        return false;
    }

    /// <summary>The source's capabilities and parameters; what the console cannot receive was refused before (<see cref="RefuseUnreceivable"/>).</summary>
    private static async Task SetUpSourceAsync(QemuVm source, MigrationParameters p, MigrationCapabilities capabilities, CancellationToken cancellationToken)
    {
        await source.AwaitMigrationCleanupAsync(cancellationToken).ConfigureAwait(false);
        await source.RunAsync("migrate-set-capabilities", QemuMigrationParameters.Capabilities(capabilities), cancellationToken).ConfigureAwait(false);
        await source.RunAsync("migrate-set-parameters", QemuMigrationParameters.Source(p), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What the console's QEMU listener cannot take: it never continues a source waiting in pre-switchover.</summary>
    private static void RefuseUnreceivable(MigrationCapabilities capabilities)
    {
        var (field, what) = capabilities switch
        {
            { PauseBeforeSwitchover: true } => ("pauseBeforeSwitchover", "pause-before-switchover"),
            _ => (null, null),
        };
        if (field is not null)
        {
            throw DomainException.Invalid(
                ErrorCodes.UnsupportedCapability,
                $"Capability '{what}' is not available from a QEMU VM to an emulator host: the console's listener takes precopy (with multifd, xbzrle, auto-converge, and postcopy-ram as long as postcopy is not started) and switches over when QEMU does.",
                field);
        }
    }

    private static async Task CancelIncomingAsync(QemuIncomingMigration incoming)
    {
        incoming.Cancel();
        await incoming.Finished.WaitAsync(EndTimeout).ConfigureAwait(false);
    }

    private static async Task DiscardAsync(QemuVm destination, string directory)
    {
        destination.Kill();
        await destination.DisposeAsync().ConfigureAwait(false);
        QemuDriver.RemoveVmDirectory(directory);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Binding reports an address in use with its own words.
        }
    }
}
