using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using VmConsole.Emulation;

namespace VmConsole.Benchmarks.Engine;

/// <summary>
/// QEMU's side of <see cref="XbzrleSuite"/>: a 64 MiB QEMU 7.2 microvm (qtest accelerator: no vCPU runs, so nothing but
/// these writes touches its memory) given 16 MiB of data at 2 MiB (each page's first word its number, as the console's
/// VM), then, while it migrates to a second QEMU, the console's <see cref="Emulation.Workloads.WorkloadKind.Hotspot"/>
/// writes over qtest: one random word into a page of those 16 MiB, 80% into the first fifth, at
/// <see cref="XbzrleSuite.PagesPerSecond"/> (as far as qtest round trips keep up; the row says the rate reached). Both
/// QEMUs are told <c>xbzrle</c> (or not) and the cache size before the destination listens.
/// </summary>
internal static class QemuHotSet
{
    private const long DataStart = 2 * Sizes.MiB;
    private const long PageSize = 4096;

    public static async Task<HotSetRun> MigrateOnceAsync(bool xbzrle, CancellationToken cancellationToken)
    {
        var mib = (XbzrleSuite.MemoryBytes >> 20).ToString(CultureInfo.InvariantCulture) + "M";
        await using var source = await QemuProcess.StartAsync(["-M", "microvm", "-m", mib], qtest: true).ConfigureAwait(false);
        var uri = "unix:" + Path.Combine(source.Directory, "migrate.sock");
        await using var destination = await QemuProcess.StartAsync(["-M", "microvm", "-m", mib, "-incoming", "defer"], qtest: false).ConfigureAwait(false);
        object capabilities = new { capabilities = new[] { new { capability = "events", state = true }, new { capability = "xbzrle", state = xbzrle } } };
        foreach (var qemu in new[] { source, destination })
        {
            await qemu.QmpAsync("migrate-set-capabilities", capabilities).ConfigureAwait(false);
            await qemu.QmpAsync("migrate-set-parameters", new Dictionary<string, object> { ["xbzrle-cache-size"] = XbzrleSuite.CacheSize }).ConfigureAwait(false);
        }

        await destination.QmpAsync("migrate-incoming", new { uri }).ConfigureAwait(false);
        await source.QmpAsync("migrate-set-parameters", new Dictionary<string, object>
        {
            ["max-bandwidth"] = XbzrleSuite.Bandwidth,
            ["downtime-limit"] = XbzrleSuite.DowntimeLimit,
        }).ConfigureAwait(false);

        for (long page = 0; page < XbzrleSuite.DataBytes / PageSize; page++)
        {
            await source.WriteAsync(DataStart + (page * PageSize), BitConverter.GetBytes(page + 1)).ConfigureAwait(false);
        }

        await source.QmpAsync("cont").ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writes = Task.Run(() => WriteHotSetAsync(source, stop.Token), CancellationToken.None);
        var wallClock = Stopwatch.StartNew();
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
            var clock = Stopwatch.StartNew();
            await source.QmpAsync("migrate", new { uri }).ConfigureAwait(false);
            JsonNode info;
            string? status;
            while (true)
            {
                info = (await source.QmpAsync("query-migrate").ConfigureAwait(false))!;
                status = info["status"]?.GetValue<string>();
                if (status is not ("setup" or "active"))
                {
                    // The guest is stopped from "device" on: a real one writes no more, and neither does this one.
                    await stop.CancelAsync().ConfigureAwait(false);
                }

                if (status is "completed" or "failed" or "cancelled" || clock.Elapsed > XbzrleSuite.Bound)
                {
                    break;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
            }

            var wall = clock.Elapsed.TotalSeconds;
            await stop.CancelAsync().ConfigureAwait(false);
            var pages = await writes.ConfigureAwait(false);
            var completed = status == "completed";
            if (!completed && status is "setup" or "active")
            {
                await source.QmpAsync("migrate_cancel").ConfigureAwait(false);
            }
            else if (!completed)
            {
                throw new InvalidOperationException($"QEMU's hot-set migration (xbzrle {xbzrle}) ended {status}: {info["error-desc"]}; stderr: {source.Stderr}");
            }
            else
            {
                await destination.WaitIncomingDoneAsync().ConfigureAwait(false);
            }

            var ram = info["ram"]!;
            var cache = info["xbzrle-cache"];
            return new HotSetRun(
                completed,
                wall,
                ram["transferred"]!.GetValue<long>(),
                ram["dirty-sync-count"]!.GetValue<long>(),
                ram["normal"]!.GetValue<long>(),
                pages / wallClock.Elapsed.TotalSeconds,
                cache is null ? null : new XbzrleFigures(
                    cache["pages"]!.GetValue<long>(),
                    cache["bytes"]!.GetValue<long>(),
                    cache["cache-miss"]!.GetValue<long>(),
                    cache["cache-miss-rate"]!.GetValue<double>(),
                    cache["encoding-rate"]!.GetValue<double>(),
                    cache["overflow"]!.GetValue<long>()));
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await writes.ConfigureAwait(false);
        }
    }

    /// <summary>Writes at the workload's rate until stopped; the number of pages written.</summary>
    private static async Task<long> WriteHotSetAsync(QemuProcess source, CancellationToken stop)
    {
        var random = new Random(0x5EED);
        var workingPages = XbzrleSuite.DataBytes / PageSize;
        var hotPages = workingPages / 5;
        var word = new byte[8];
        var clock = Stopwatch.StartNew();
        long written = 0;
        while (!stop.IsCancellationRequested)
        {
            var due = (long)(clock.Elapsed.TotalSeconds * XbzrleSuite.PagesPerSecond) - written;
            if (due <= 0)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(5), stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                continue;
            }

            for (var i = 0; i < due && !stop.IsCancellationRequested; i++)
            {
                var page = random.Next(10) < 8 ? random.NextInt64(hotPages) : hotPages + random.NextInt64(workingPages - hotPages);
                random.NextBytes(word);
                await source.WriteAsync(DataStart + (page * PageSize) + (random.Next((int)(PageSize / 8)) * 8), word).ConfigureAwait(false);
                written++;
            }
        }

        return written;
    }
}
