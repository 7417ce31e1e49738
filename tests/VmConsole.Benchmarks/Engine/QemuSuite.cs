using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace VmConsole.Benchmarks.Engine;

/// <summary>
/// Macro B: QEMU 7.2 doing Macro A's job on the same machine. A stopped source microvm whose RAM is a shared file with
/// Macro A's content (<see cref="GuestPattern"/>, every page written out), a destination of the same machine and size
/// listening with <c>-incoming unix:</c>, max-bandwidth at 1 TiB/s, and the wall time from the <c>migrate</c> command to
/// the destination's MIGRATION completed event. Best of five, each followed by a run of Macro A for the ratio.
/// </summary>
public sealed class QemuSuite : IBenchmarkSuite
{
    private const string Section = "Macro B";
    private const string Skipped = "QEMU not installed: skipped";

    public string Name => "qemu";

    public int Order => 30;

    /// <summary>The pause before each run of either side.</summary>
    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(3);

    public async Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!QemuProcess.IsInstalled)
        {
            return
            [
                new(Section, "QEMU wall time (migrate to destination completed)", double.NaN, "s", Note: Skipped),
                new(Section, "QEMU total-time (source query-migrate)", double.NaN, "ms", Note: Skipped),
                new(Section, "QEMU guest bytes per second (wall)", double.NaN, "GB/s", Note: Skipped),
                new(Section, "VmConsole / QEMU wall time", double.NaN, "x", Target: "<= 0.8x", Note: Skipped),
            ];
        }

        var size = MacroA.GuestBytes(options);
        var memoryFile = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : options.WorkDirectory, $"vmconsole-bench-{Environment.ProcessId}.mem");
        // QEMU and Macro A take turns, so that both see the same machine (on a shared one, its load drifts in minutes).
        var runs = new List<(double Wall, long TotalTime)>();
        var ourRuns = new List<double>();
        try
        {
            GuestPattern.WriteFile(memoryFile, size);
            for (var i = 0; i < MacroA.Repeats(options); i++)
            {
                // Each run starts on a settled machine: a process that just exited leaves the kernel work to do for a
                // while (freeing and, on a VM like this one, reporting its gigabyte of pages back to the host), and that
                // work would land in the next run's time, whichever side it is.
                await Task.Delay(SettleTime, cancellationToken).ConfigureAwait(false);
                runs.Add(await MigrateOnceAsync(memoryFile, size).ConfigureAwait(false));
                await Task.Delay(SettleTime, cancellationToken).ConfigureAwait(false);
                ourRuns.Add((await MacroA.RunOnceAsync(options, cancellationToken).ConfigureAwait(false)).WallSeconds);
            }
        }
        finally
        {
            File.Delete(memoryFile);
        }

        var ours = ourRuns.Min();
        var best = runs.MinBy(r => r.Wall);
        var ratio = ours / best.Wall;
        var list = string.Join(", ", runs.Select(r => r.Wall.ToString("0.000", CultureInfo.InvariantCulture)));
        var ourList = string.Join(", ", ourRuns.Select(r => r.ToString("0.000", CultureInfo.InvariantCulture)));
        return
        [
            new(Section, "QEMU wall time (migrate to destination completed)", best.Wall, "s",
                Note: string.Create(CultureInfo.InvariantCulture, $"{size >> 20} MiB microvm, same content as Macro A, -S, unix socket, max-bandwidth 1 TiB/s; best of {runs.Count}: {list} s")),
            new(Section, "QEMU total-time (source query-migrate)", best.TotalTime, "ms"),
            new(Section, "QEMU guest bytes per second (wall)", size / best.Wall / 1e9, "GB/s"),
            new(Section, "VmConsole / QEMU wall time", ratio, "x", Target: "<= 0.8x", Met: ratio <= 0.8,
                Note: string.Create(CultureInfo.InvariantCulture,
                    $"best of runs taking turns with QEMU's: Macro A {ours:0.000} s ({ourList}; includes creating the destination VM and verifying it) vs QEMU {best.Wall:0.000} s")),
        ];
    }

    /// <summary>
    /// One QEMU-to-QEMU migration of <paramref name="memoryFile"/>'s bytes; with <paramref name="multifdChannels"/> above
    /// 0, multifd with that many channels (compression none): the destination then starts with <c>-incoming defer</c>,
    /// is told the capability and the channel count, and only then listens (<c>migrate-incoming</c>), as QEMU wants.
    /// </summary>
    internal static async Task<(double Wall, long TotalTime)> MigrateOnceAsync(string memoryFile, long size, int multifdChannels = 0)
    {
        var mib = (size >> 20).ToString(CultureInfo.InvariantCulture) + "M";
        await using var source = await QemuProcess.StartAsync(
            ["-M", "microvm,memory-backend=mem", "-m", mib, "-object", $"memory-backend-file,id=mem,size={mib},mem-path={memoryFile},share=on"],
            qtest: false).ConfigureAwait(false);
        // The socket lives in the source's directory, removed when the source is disposed (after the destination).
        var uri = "unix:" + Path.Combine(source.Directory, "migrate.sock");
        var multifd = multifdChannels > 0;
        await using var destination = await QemuProcess.StartAsync(
            ["-M", "microvm,memory-backend=mem", "-m", mib, "-object", $"memory-backend-ram,id=mem,size={mib}", "-incoming", multifd ? "defer" : uri],
            qtest: false).ConfigureAwait(false);
        object events = new { capabilities = new[] { new { capability = "events", state = true } } };
        await destination.QmpAsync("migrate-set-capabilities", events).ConfigureAwait(false);
        if (multifd)
        {
            object capabilities = new { capabilities = new[] { new { capability = "multifd", state = true } } };
            var channels = new Dictionary<string, object> { ["multifd-channels"] = multifdChannels, ["multifd-compression"] = "none" };
            foreach (var qemu in new[] { source, destination })
            {
                await qemu.QmpAsync("migrate-set-capabilities", capabilities).ConfigureAwait(false);
                await qemu.QmpAsync("migrate-set-parameters", channels).ConfigureAwait(false);
            }

            await destination.QmpAsync("migrate-incoming", new { uri }).ConfigureAwait(false);
        }

        await source.QmpAsync("migrate-set-parameters", new Dictionary<string, object> { ["max-bandwidth"] = 1L << 40, ["downtime-limit"] = 2000 }).ConfigureAwait(false);

        var clock = Stopwatch.StartNew();
        await source.QmpAsync("migrate", new { uri }).ConfigureAwait(false);
        var final = await destination.WaitEventAsync("MIGRATION", IsFinal).ConfigureAwait(false);
        var wall = clock.Elapsed.TotalSeconds;
        if (final?["status"]?.GetValue<string>() != "completed")
        {
            throw new InvalidOperationException($"QEMU's incoming migration ended {final?["status"]}; stderr: {destination.Stderr}");
        }

        var info = await source.WaitMigrationAsync().ConfigureAwait(false);
        return (wall, info["total-time"]!.GetValue<long>());
    }

    private static bool IsFinal(JsonNode? data) => data?["status"]?.GetValue<string>() is "completed" or "failed" or "cancelled";
}
