using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Model;
using VmConsole.Migration.Qemu;
using VmConsole.Qemu.Migrations;
using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Driver;

/// <summary>The end of a migration from a QEMU VM to an emulator host: the source quits and its folder goes, or it runs on.</summary>
public sealed partial class CrossDriverMigrations
{
    /// <summary>
    /// After the received migration has finished: the source QEMU (postmigrate) is quit and the VM leaves the QEMU
    /// driver, or the source's migration is ended and it runs on as it was.
    /// </summary>
    private async Task FinishFromQemuAsync(QemuDomain domain, QemuVm source, QemuIncomingMigration incoming, bool wasRunning)
    {
        await incoming.Finished.ConfigureAwait(false);
        if (incoming.Status == MigrationStatus.Completed)
        {
            // The emulator holds the name now (the arriving VM took it over): the QEMU domain goes, as moved, and so does
            // its definition, so that a console restarted before the folder is gone ends the source as a stray.
            var directory = domain.Host.VmDirectory(domain.Name);
            qemu.RemoveDeparted(domain);
            DeleteQuietly(Path.Combine(directory, QemuDomainFile.FileName));
            source.Memory.Release(incoming);
            try
            {
                await source.Instance.QuitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is DomainException or TimeoutException)
            {
                source.Kill();
            }

            // The source has quit (its exit unlinks its pid file by path): only now may a QEMU start in a folder of this name.
            await domain.DisposeAsync().ConfigureAwait(false);
            QemuDriver.RemoveVmDirectory(directory);
            return;
        }

        try
        {
            await EndSourceMigrationAsync(source).ConfigureAwait(false);
            if (wasRunning && source.RunState != RunState.Running && source.ExitReason is null)
            {
                // Not QemuVm.ResumeAsync: a source left in postmigrate by a stream the console then refused runs again
                // here on purpose, since no destination runs the guest.
                await source.RunAsync("cont", null, CancellationToken.None).ConfigureAwait(false);
            }

            await source.RefreshAsync().ConfigureAwait(false);
        }
        catch (DomainException)
        {
            // The source QEMU went away: its domain shows it as shut off, with the reason.
        }
        finally
        {
            source.Memory.Release(incoming);
        }
    }

    /// <summary>Waits (bounded) until the source's own migration has ended; one still running is cancelled.</summary>
    private static async Task EndSourceMigrationAsync(QemuVm source)
    {
        var started = TimeProvider.System.GetTimestamp();
        var cancelled = false;
        while (TimeProvider.System.GetElapsedTime(started) < EndTimeout)
        {
            var status = QemuMigrationStats.Status(await source.RunAsync("query-migrate", null, CancellationToken.None).ConfigureAwait(false));
            if (status.IsFinal() || status == MigrationStatus.None)
            {
                return;
            }

            if (!cancelled && status != MigrationStatus.Cancelling && TimeProvider.System.GetElapsedTime(started) > TimeSpan.FromSeconds(1))
            {
                // The listener is gone, yet QEMU still sends: tell it to stop.
                await source.RunAsync("migrate_cancel", null, CancellationToken.None).ConfigureAwait(false);
                cancelled = true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
        }
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The folder goes with it once the source has quit.
        }
    }
}
