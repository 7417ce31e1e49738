using System.Diagnostics;
using System.Globalization;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;

namespace VmConsole.Benchmarks.Engine;

/// <summary>
/// XBZRLE (<c>--only xbzrle</c>): a 64 MiB microvm with 16 MiB of data whose guest keeps writing one random word into
/// pages of those 16 MiB at <see cref="PagesPerSecond"/> (80% into the first fifth, the hot set), migrated at
/// <see cref="Bandwidth"/> with a 100 ms downtime limit and a 16 MiB cache, with XBZRLE and without: bytes on the wire,
/// passes (dirty-sync-count) and wall time. The console's side is an emulated VM (<see cref="WorkloadKind.Hotspot"/>)
/// migrated console to console over a unix socket; QEMU's side is a QEMU 7.2 microvm given the same data and the same
/// writes over qtest (<see cref="QemuHotSet"/>), migrated to a second QEMU. The four settings take turns, twice.
/// </summary>
public sealed class XbzrleSuite : IBenchmarkSuite
{
    public const long PagesPerSecond = 2_000;
    public const long Bandwidth = 8 * Sizes.MiB;
    public const long DowntimeLimit = 100;
    public const long CacheSize = 16 * Sizes.MiB;
    public const long MemoryBytes = 64 * Sizes.MiB;
    public const long DataBytes = 16 * Sizes.MiB;

    /// <summary>A run that has not completed by then is cancelled and reported as not converged.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private const string Section = "XBZRLE";

    public string Name => "xbzrle";

    public int Order => 36;

    public async Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var repeats = options.Quick ? 1 : 2;
        var runs = new Dictionary<(string Side, bool Xbzrle), List<HotSetRun>>();
        foreach (var side in new[] { "console", "QEMU" })
        {
            foreach (var xbzrle in new[] { true, false })
            {
                runs[(side, xbzrle)] = [];
            }
        }

        for (var i = 0; i < repeats; i++)
        {
            foreach (var xbzrle in new[] { true, false })
            {
                runs[("console", xbzrle)].Add(await ConsoleOnceAsync(options.WorkDirectory, xbzrle, cancellationToken).ConfigureAwait(false));
                Console.Error.WriteLine($"xbzrle console {xbzrle}: {runs[("console", xbzrle)][^1]}");
                if (QemuProcess.IsInstalled)
                {
                    runs[("QEMU", xbzrle)].Add(await QemuHotSet.MigrateOnceAsync(xbzrle, cancellationToken).ConfigureAwait(false));
                    Console.Error.WriteLine($"xbzrle QEMU {xbzrle}: {runs[("QEMU", xbzrle)][^1]}");
                }
            }
        }

        var rows = new List<Measurement>();
        foreach (var ((side, xbzrle), list) in runs)
        {
            var what = $"{(side == "console" ? "Console to console" : "QEMU to QEMU")}, {(xbzrle ? "XBZRLE" : "plain precopy")}";
            if (list.Count == 0)
            {
                rows.Add(new(Section, what + ": bytes on the wire", double.NaN, "MB", Note: "QEMU not installed: skipped"));
                continue;
            }

            var converged = list.Where(r => r.Completed).ToList();
            var runText = string.Join("; ", list.Select(r => r.ToString()));
            rows.Add(new(Section, what + ": bytes on the wire", converged.Count > 0 ? converged.Average(r => r.TransferredBytes) / 1e6 : double.NaN, "MB",
                Note: string.Create(CultureInfo.InvariantCulture, $"mean of the {converged.Count} of {list.Count} runs that completed; runs: {runText}")));
            rows.Add(new(Section, what + ": passes (dirty-sync-count)", converged.Count > 0 ? converged.Average(r => r.DirtySyncCount) : double.NaN, ""));
            rows.Add(new(Section, what + ": wall time", converged.Count > 0 ? converged.Average(r => r.WallSeconds) : double.NaN, "s"));
        }

        return rows;
    }

    /// <summary>One console-to-console run on a fresh emulator: the guest writes for 0.5 s before the migration starts.</summary>
    private static async Task<HotSetRun> ConsoleOnceAsync(string workDirectory, bool xbzrle, CancellationToken cancellationToken)
    {
        using var emulator = new Emulator();
        emulator.AddHost("host-a", 4 * MemoryBytes);
        emulator.AddHost("host-b", 4 * MemoryBytes);
        await using var engine = new MigrationEngine(emulator);
        var vm = emulator.CreateVm(new VmDefinition("hot", "host-a", "microvm", MemoryBytes)
        {
            Workload = new WorkloadSpec(WorkloadKind.Hotspot, PagesPerSecond, DataBytes),
            Start = true,
        });
        var word = new byte[8];
        for (long offset = 0; offset < DataBytes; offset += 4096)
        {
            BitConverter.TryWriteBytes(word, (offset / 4096) + 1);
            vm.MainRam.Write(offset, word);
        }

        await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var migration = engine.Start(new MigrationRequest("hot")
        {
            DestinationHost = "host-b",
            Uri = "unix:" + Path.Combine(workDirectory, "xbzrle.sock"),
            Parameters = MigrationParameters.Default with { MaxBandwidth = Bandwidth, DowntimeLimit = DowntimeLimit, XbzrleCacheSize = CacheSize },
            Capabilities = MigrationCapabilities.Default with { Xbzrle = xbzrle },
        });
        var completed = await Task.WhenAny(migration.Finished, Task.Delay(Bound, cancellationToken)).ConfigureAwait(false) == migration.Finished;
        var wall = clock.Elapsed.TotalSeconds;
        var stats = migration.GetStats();
        if (!completed)
        {
            migration.Cancel();
            await migration.Finished.ConfigureAwait(false);
        }
        else if (migration.Status != MigrationStatus.Completed || migration.Verified != true)
        {
            throw new InvalidOperationException($"The console's hot-set migration (xbzrle {xbzrle}) ended {migration.Status.ToQemuName()}, verified {migration.Verified}: {migration.ErrorDesc}");
        }

        var cache = stats.XbzrleCache;
        return new HotSetRun(
            completed,
            wall,
            stats.Transferred,
            stats.DirtySyncCount,
            stats.Normal,
            vm.Workload.PagesWritten / (wall + 0.5),
            cache is null ? null : new XbzrleFigures(cache.Pages, cache.Bytes, cache.CacheMiss, cache.CacheMissRate, cache.EncodingRate, cache.Overflow));
    }
}

/// <summary>The XBZRLE cache's figures, as QEMU names them (<c>xbzrle-cache</c>).</summary>
internal sealed record XbzrleFigures(long Pages, long Bytes, long CacheMiss, double CacheMissRate, double EncodingRate, long Overflow)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"xbzrle pages {Pages}, bytes {Bytes}, cache-miss {CacheMiss}, cache-miss-rate {CacheMissRate:0.###}, encoding-rate {EncodingRate:0.#}, overflow {Overflow}");
}

/// <summary>What one hot-set migration measured.</summary>
internal sealed record HotSetRun(bool Completed, double WallSeconds, long TransferredBytes, long DirtySyncCount, long NormalPages, double GuestPagesPerSecond, XbzrleFigures? Cache)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(Completed ? "" : "NOT CONVERGED, cancelled; ")}{TransferredBytes / 1e6:0.0} MB in {DirtySyncCount} syncs, {WallSeconds:0.00} s, {NormalPages} normal pages, guest {GuestPagesPerSecond:0} pages/s{(Cache is null ? "" : ", " + Cache)}");
}
