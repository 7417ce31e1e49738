using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Migrations;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Driver;

/// <summary>How the driver finds its VMs again when the console (re)starts: from the folders in its hosts' runtime directories.</summary>
public sealed partial class QemuDriver
{
    /// <summary>
    /// Finds the VMs this console defined before it (re)started, in each available host's runtime directory, and
    /// re-attaches to every one whose process is alive; the rest are listed as shut off, with the reason. A migration
    /// that was running is followed again in <paramref name="registry"/> with its id (or its outcome taken, if QEMU
    /// finished it meanwhile); a QEMU left in a directory without a definition (a destination whose migration never got
    /// registered) is ended. Returns the migrations followed again.
    /// </summary>
    public async Task<IReadOnlyList<IMigration>> LoadAsync(MigrationRegistry? registry = null, CancellationToken cancellationToken = default)
    {
        var incoming = new List<(QemuHost Host, string Directory, QemuIncomingFile File)>();
        foreach (var host in _hosts.Where(h => h.UnavailableReason is null))
        {
            var root = Path.Combine(host.RuntimeDirectory, "vms");
            if (!Directory.Exists(root))
            {
                continue;
            }

            foreach (var directory in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                if (await QemuIncomingFile.LoadAsync(directory, cancellationToken).ConfigureAwait(false) is { } marker)
                {
                    incoming.Add((host, directory, marker));
                    continue;
                }

                if (await QemuDomainFile.LoadAsync(directory, cancellationToken).ConfigureAwait(false) is not { } file
                    || file.Host != host.Name || Path.GetFileName(directory) != file.Name || _domains.ContainsKey(file.Name))
                {
                    await EndStrayAsync(directory, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var domain = new QemuDomain(file.Id, host, file.ToSpec(), file.CommandLine, _teardownTimeout);
                await domain.AttachAsync(cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    _domains = _domains.Add(domain.Name, domain);
                }

                InventoryChanged?.Invoke(InventoryChangeKind.VmAdded, domain.Name);
            }
        }

        var followed = new List<IMigration>();
        foreach (var (host, directory, marker) in incoming)
        {
            if (await RecoverAsync(host, directory, marker, registry, cancellationToken).ConfigureAwait(false) is { } migration)
            {
                followed.Add(migration);
            }
        }

        return followed;
    }

    /// <summary>
    /// A migration's destination found at start: while its source runs, the migration is followed again; a source gone
    /// after QEMU completed (the console was killed between the completion and the move) leaves the destination as the
    /// VM; otherwise the destination is ended.
    /// </summary>
    private async Task<IMigration?> RecoverAsync(QemuHost host, string directory, QemuIncomingFile marker, MigrationRegistry? registry, CancellationToken cancellationToken)
    {
        var launcher = host.Launcher!;
        if (!_domains.TryGetValue(marker.VmName, out var domain) || domain.Id != marker.DomainId)
        {
            await EndStrayAsync(directory, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var spec = domain.Spec with { Incoming = true, Paused = false };
        QemuVm? destination;
        try
        {
            destination = await QemuVm.AttachAsync(launcher, spec, directory, TimeProvider.System, null, cancellationToken).ConfigureAwait(false);
        }
        catch (QemuStartException)
        {
            destination = null;
        }

        if (destination is null)
        {
            await EndStrayAsync(directory, cancellationToken).ConfigureAwait(false);
            return null;
        }

        if (domain.Running is { } source && registry is not null)
        {
            // The destination runs already: it counts against its host until it is the VM or is gone.
            var arriving = Arriving(host, domain.ReservedBytes);
            var leaving = domain.Host;
            var migration = await QemuMigration.RecoverAsync(
                marker.MigrationId, source, destination, marker.SourceHost, host.Name, launcher, directory, marker.Parameters, marker.Capabilities, registry, TimeProvider.System,
                arrived => CompleteMoveAsync(domain, arrived, host, arriving)).ConfigureAwait(false);
            _ = FollowAsync(domain, migration, leaving, host, arriving);
            return migration;
        }

        if (domain.Running is null && destination.RunState is RunState.Running or RunState.Paused)
        {
            // QEMU completed and the source quit before the console could move the VM: the destination is the VM now.
            var from = domain.Host;
            await domain.MoveAsync(destination, host).ConfigureAwait(false);
            QemuIncomingFile.Delete(directory);
            RemoveDirectory(from.VmDirectory(domain.Name));
            InventoryChanged?.Invoke(InventoryChangeKind.VmMoved, domain.Name);
            return null;
        }

        destination.Kill();
        await destination.DisposeAsync().ConfigureAwait(false);
        RemoveDirectory(directory);
        return null;
    }

    /// <summary>Ends a QEMU left in a directory the console has no definition for, and removes the directory.</summary>
    private static async Task EndStrayAsync(string directory, CancellationToken cancellationToken)
    {
        try
        {
            var text = await File.ReadAllTextAsync(Path.Combine(directory, QemuCommandLine.PidFile), cancellationToken).ConfigureAwait(false);
            if (int.TryParse(text.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                && QemuInstance.IsProcessAlive(pid) && IsQemuOf(pid, directory))
            {
                QemuInstance.Kill(pid);
            }
        }
        catch (IOException)
        {
            // No pid file: no process to end.
        }

        RemoveDirectory(directory);
    }

    /// <summary>Whether <paramref name="pid"/> is a QEMU started in <paramref name="directory"/> (its command line names it), not a reused pid.</summary>
    private static bool IsQemuOf(int pid, string directory)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains(directory, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
