using System.Collections.Immutable;
using System.Security.Cryptography;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Memory;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Qmp;
using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Migrations;

/// <summary>How a QEMU migration ends: the destination runs and the source quits, or the destination goes.</summary>
public sealed partial class QemuMigration
{
    /// <summary>After the final state: the destination runs and the source quits, or the destination goes; then the final state is raised.</summary>
    private async Task EndAsync()
    {
        var status = Status;
        try
        {
            if (status == MigrationStatus.Completed && Destination is { } destination)
            {
                if (_postcopyRequested)
                {
                    // In postcopy the source completes once it has sent the last page; the destination may still be loading it.
                    await WaitForIncomingCompletedAsync(destination).ConfigureAwait(false);
                }

                if (_completing is { } completing)
                {
                    // The VM becomes the destination's before the source quits and before completed is said: nobody
                    // sees it shut off in between, and whoever reacts to completed finds it where it now runs.
                    await InspectDestinationAsync(destination).ConfigureAwait(false);
                    await completing(destination).ConfigureAwait(false);
                    try
                    {
                        await QuitSourceAsync().ConfigureAwait(false);
                    }
                    finally
                    {
                        // Nobody else holds the source now: the VM let go of it when it became the destination's.
                        await _source.DisposeAsync().ConfigureAwait(false);
                    }
                }
                else
                {
                    // The source quits while the destination's state and migratable set are read.
                    await Task.WhenAll(QuitSourceAsync(), InspectDestinationAsync(destination)).ConfigureAwait(false);
                }
            }
            else
            {
                await DiscardDestinationAsync().ConfigureAwait(false);
                await _source.RefreshAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is DomainException or IOException or ObjectDisposedException or TimeoutException)
        {
            // A QEMU that went away meanwhile has nothing left to clean.
        }

        // Released before the final state is said, so that whoever reacts to it may change the VM's memory at once.
        _source.Memory.Release(this);
        if (status.IsFinal())
        {
            StatusChanged?.Invoke(this, status);
        }
    }

    /// <summary>The source is in postmigrate: its guest runs on the destination now; nothing is left to power down.</summary>
    private Task QuitSourceAsync() => _source.Instance.QuitAsync(TimeSpan.FromSeconds(10), _time);

    /// <summary>The completed destination's run state, and its migratable set against the one the freeze held (a difference is recorded).</summary>
    private async Task InspectDestinationAsync(QemuVm destination)
    {
        await destination.RefreshAsync().ConfigureAwait(false);
        await CompareMigratableSetAsync(destination).ConfigureAwait(false);
        if (_migratableSetDifference is { } difference)
        {
            // Recorded with the migration (its history keeps the error text of its final state): completed, but not as frozen.
            lock (_gate)
            {
                _stats = _stats with { ErrorDesc = $"Completed, but the destination's migratable set differs from the one the freeze held: {difference}" };
            }
        }
    }

    /// <summary>Waits (bounded) until the destination's incoming side has ended; one that went away has nothing more to wait for.</summary>
    private async Task WaitForIncomingCompletedAsync(QemuVm destination)
    {
        var started = _time.GetTimestamp();
        try
        {
            while (_time.GetElapsedTime(started) < TimeSpan.FromSeconds(30)
                && QemuMigrationStats.Status(await destination.RunAsync("query-migrate", null, CancellationToken.None).ConfigureAwait(false)) is not (MigrationStatus.Completed or MigrationStatus.Failed))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), _time).ConfigureAwait(false);
            }
        }
        catch (DomainException)
        {
            // It went away: the refresh that follows finds out what became of it.
        }
    }

    private async Task CompareMigratableSetAsync(QemuVm destination)
    {
        try
        {
            _migratableSetDifference = QemuMigratableSet.Compare(_sourceSet, await destination.RamBlocksAsync().ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is DomainException or FormatException)
        {
            _migratableSetDifference = $"The destination's RAM block table could not be read: {ex.Message}";
        }
    }

    private async Task DiscardDestinationAsync()
    {
        if (Interlocked.Exchange(ref _destination, null) is { } destination)
        {
            destination.Kill();
            await destination.DisposeAsync().ConfigureAwait(false);
        }
    }
}
