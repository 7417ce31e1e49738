using System.Diagnostics;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Migrations;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Vms;

namespace VmConsole.Benchmarks.Qemu;

/// <summary>
/// The same migration through the console's driver: <see cref="QemuMigration.StartAsync"/> (which starts the
/// destination, sets capabilities and parameters, migrate-incoming, migrate) and its <see cref="IMigration.Finished"/>,
/// which completes once the console has seen <c>completed</c>, quit the postmigrate source and said so. Noticed is the
/// first Progress that carries <c>completed</c>.
/// </summary>
internal static class ConsoleQemuMigration
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    public static async Task<MigrationRun> RunAsync(QemuLauncher launcher, MigrationWorkload workload, string directory, CancellationToken cancellationToken)
    {
        await using var reaper = new QemuReaper();
        var sourceDirectory = reaper.Track(Path.Combine(directory, "src"));
        var destinationDirectory = reaper.Track(Path.Combine(directory, "dst"));
        QemuVm? source = null;
        QemuMigration? migration = null;
        try
        {
            source = await QemuVm.StartAsync(launcher, workload.Spec, sourceDirectory, cancellationToken: cancellationToken).ConfigureAwait(false);
            await Task.Delay(workload.RunFor, cancellationToken).ConfigureAwait(false);
            if (workload.PauseFirst)
            {
                await source.PauseAsync(cancellationToken).ConfigureAwait(false);
            }

            var parameters = MigrationParameters.Default with { MaxBandwidth = MigrationWorkload.MaxBandwidth, DowntimeLimit = MigrationWorkload.DowntimeLimit };
            long noticedAt = 0;
            void OnProgress(IMigration m)
            {
                if (m.Status == MigrationStatus.Completed)
                {
                    Interlocked.CompareExchange(ref noticedAt, Stopwatch.GetTimestamp(), 0);
                }
            }

            var t0 = Stopwatch.GetTimestamp();
            migration = await QemuMigration.StartAsync(
                source, "host-a", "host-b", launcher, destinationDirectory, parameters, MigrationCapabilities.Default, new MigrationRegistry(), cancellationToken: cancellationToken).ConfigureAwait(false);
            var setup = Stopwatch.GetElapsedTime(t0);
            migration.Progress += OnProgress;
            OnProgress(migration);
            await migration.Finished.WaitAsync(Limit, cancellationToken).ConfigureAwait(false);
            var done = Stopwatch.GetElapsedTime(t0);
            migration.Progress -= OnProgress;

            var stats = migration.GetStats();
            if (stats.Status != MigrationStatus.Completed || noticedAt == 0)
            {
                throw new InvalidOperationException($"The console's migration ended {stats.Status}: {stats.ErrorDesc ?? "no error-desc"}");
            }

            return new MigrationRun(
                setup.TotalMilliseconds, Stopwatch.GetElapsedTime(t0, noticedAt).TotalMilliseconds, done.TotalMilliseconds, stats.TotalTime, stats.Normal, stats.Duplicate);
        }
        finally
        {
            if (migration is not null)
            {
                if (!migration.Finished.IsCompleted)
                {
                    migration.Cancel();
                    await migration.Finished.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                }

                if (migration.Destination is { } destination)
                {
                    await destination.DisposeAsync().ConfigureAwait(false);
                }
            }

            if (source is not null)
            {
                await source.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
