using System.Diagnostics;
using System.Text.Json;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Qmp;

namespace VmConsole.Benchmarks.Qemu;

/// <summary>
/// The baseline: the migration as a bare script would drive it, with nothing of the console around it. The destination
/// is started with <c>-incoming defer</c> by <see cref="QemuLauncher"/> (the same command line the console's migration
/// uses), then straight QMP through <see cref="QmpClient"/>: <c>migrate-set-capabilities</c> (events) on both ends,
/// <c>migrate-set-parameters</c> (max-bandwidth, downtime-limit) on the source, <c>migrate-incoming</c>, <c>migrate</c>,
/// and <c>query-migrate</c> every <see cref="PollInterval"/> until <c>completed</c>; then the source is quit, as the
/// console does before it says completed (after, when QEMU's first completed answer lacks total-time, a query or two
/// more for it: a millisecond or so in the wrap-up).
/// </summary>
internal static class BareQmpMigration
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    /// <summary>
    /// The completed answer with total-time in it: QEMU 7.2 may say <c>completed</c> (the migration thread set the
    /// state) before the main loop has filled total-time and downtime in; ask again, a few times, until it has.
    /// </summary>
    private static async Task<JsonElement> FinalInfoAsync(QmpClient qmp, JsonElement info, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 50 && info.TryGetProperty("total-time", out var t) && t.GetInt64() == 0; i++)
        {
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            info = await qmp.ExecuteAsync("query-migrate", cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        return info;
    }

    public static async Task<MigrationRun> RunAsync(QemuLauncher launcher, MigrationWorkload workload, string directory, CancellationToken cancellationToken)
    {
        await using var reaper = new QemuReaper();
        var sourceDirectory = reaper.Track(Path.Combine(directory, "src"));
        var destinationDirectory = reaper.Track(Path.Combine(directory, "dst"));
        QemuInstance? source = null;
        QemuInstance? destination = null;
        try
        {
            source = await launcher.StartAsync(workload.Spec, sourceDirectory, cancellationToken).ConfigureAwait(false);
            await Task.Delay(workload.RunFor, cancellationToken).ConfigureAwait(false);
            if (workload.PauseFirst)
            {
                await source.Qmp.ExecuteAsync("stop", cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            var t0 = Stopwatch.GetTimestamp();
            destination = await launcher.StartAsync(workload.Spec with { Incoming = true, Paused = false }, destinationDirectory, cancellationToken).ConfigureAwait(false);
            var uri = "unix:" + Path.Combine(destinationDirectory, "migrate.sock");
            object capabilities = new { capabilities = new[] { new { capability = "events", state = true } } };
            await source.Qmp.ExecuteAsync("migrate-set-capabilities", capabilities, cancellationToken: cancellationToken).ConfigureAwait(false);
            await destination.Qmp.ExecuteAsync("migrate-set-capabilities", capabilities, cancellationToken: cancellationToken).ConfigureAwait(false);
            await source.Qmp.ExecuteAsync("migrate-set-parameters", new Dictionary<string, object>
            {
                ["max-bandwidth"] = MigrationWorkload.MaxBandwidth,
                ["downtime-limit"] = MigrationWorkload.DowntimeLimit,
            }, cancellationToken: cancellationToken).ConfigureAwait(false);
            await destination.Qmp.ExecuteAsync("migrate-incoming", new { uri }, cancellationToken: cancellationToken).ConfigureAwait(false);
            await source.Qmp.ExecuteAsync("migrate", new { uri }, cancellationToken: cancellationToken).ConfigureAwait(false);
            var setup = Stopwatch.GetElapsedTime(t0);

            while (true)
            {
                var info = await source.Qmp.ExecuteAsync("query-migrate", cancellationToken: cancellationToken).ConfigureAwait(false);
                switch (info.GetProperty("status").GetString())
                {
                    case "completed":
                        var noticed = Stopwatch.GetElapsedTime(t0);
                        info = await FinalInfoAsync(source.Qmp, info, cancellationToken).ConfigureAwait(false);
                        await source.QuitAsync(TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
                        var done = Stopwatch.GetElapsedTime(t0);
                        var ram = info.GetProperty("ram");
                        return new MigrationRun(
                            setup.TotalMilliseconds, noticed.TotalMilliseconds, done.TotalMilliseconds, info.GetProperty("total-time").GetInt64(),
                            ram.GetProperty("normal").GetInt64(), ram.GetProperty("duplicate").GetInt64());
                    case "failed" or "cancelled":
                        throw new InvalidOperationException($"The bare migration ended {info.GetProperty("status").GetString()}: {(info.TryGetProperty("error-desc", out var e) ? e.GetString() : "no error-desc")}");
                }

                if (Stopwatch.GetElapsedTime(t0) > Limit)
                {
                    throw new TimeoutException($"The bare migration did not complete within {Limit.TotalSeconds:0} s.");
                }

                await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            // The reaper (disposed after these) kills whatever still runs: on success the destination, on error both.
            if (destination is not null)
            {
                await destination.DisposeAsync().ConfigureAwait(false);
            }

            if (source is not null)
            {
                await source.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
