using System.Globalization;
using VmConsole.Qemu.Processes;

namespace VmConsole.Benchmarks.Qemu;

/// <summary>
/// The console's QEMU-to-QEMU migration (<see cref="ConsoleQemuMigration"/>) against the same migration driven by a
/// bare QMP script (<see cref="BareQmpMigration"/>): 1 GiB pc, unix socket, max-bandwidth 1 TiB/s, for two workloads
/// (<see cref="MigrationWorkload"/>). The two take turns (which goes first alternates, after one unrecorded warm-up run of each), each run on a settled machine,
/// every QEMU ended after each run. Wall time from starting the destination to the end (completed seen and the source
/// quit), medians side by side and their ratio; with where the time went (setup, noticing completion, wrap-up).
/// </summary>
public sealed class QemuMigrationSuite : IBenchmarkSuite
{
    private const string Section = "QEMU migration";
    private const double TargetRatio = 1.05;

    /// <summary>The pause before each run: a 1 GiB QEMU that just ended leaves the kernel pages to free.</summary>
    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(2);

    public string Name => "qemu-migration";

    public int Order => 34;

    public async Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        MigrationWorkload[] workloads = [MigrationWorkload.Firmware, MigrationWorkload.Filled];
        var binary = QemuLauncher.FindBinary();
        if (binary is null)
        {
            return [.. workloads.Select(w => new Measurement(Section, RatioName(w), double.NaN, "x", Target: Target, Note: "QEMU not installed: skipped"))];
        }

        var launcher = new QemuLauncher(binary);
        var rows = new List<Measurement>();
        var runNumber = 0;

        // One unrecorded run of each side first: the first run in this process pays for compiling its code (tens of
        // milliseconds, a third of the short job), which a console that has been serving has long paid.
        foreach (var consoleSide in new[] { true, false })
        {
            await Task.Delay(SettleTime, cancellationToken).ConfigureAwait(false);
            var directory = Path.Combine(options.WorkDirectory, "warm-up" + (consoleSide ? "-console" : "-bare"));
            var run = consoleSide
                ? await ConsoleQemuMigration.RunAsync(launcher, workloads[0], directory, cancellationToken).ConfigureAwait(false)
                : await BareQmpMigration.RunAsync(launcher, workloads[0], directory, cancellationToken).ConfigureAwait(false);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"qemu-migration: warm-up (not counted): {(consoleSide ? "console" : "bare   ")} {Describe(run)}"));
        }

        foreach (var workload in workloads)
        {
            var console = new List<MigrationRun>();
            var bare = new List<MigrationRun>();

            // The firmware-only job is over in a tenth of a second, where a busy machine's noise is tens of milliseconds:
            // it takes more runs for its medians to settle (each costs little more than the settle time).
            var repeats = options.Quick ? 2 : workload == MigrationWorkload.Firmware ? 15 : 5;
            for (var i = 0; i < repeats; i++)
            {
                foreach (var consoleSide in i % 2 == 0 ? new[] { true, false } : [false, true])
                {
                    await Task.Delay(SettleTime, cancellationToken).ConfigureAwait(false);
                    var directory = Path.Combine(options.WorkDirectory, "m" + (++runNumber).ToString(CultureInfo.InvariantCulture));
                    var run = consoleSide
                        ? await ConsoleQemuMigration.RunAsync(launcher, workload, directory, cancellationToken).ConfigureAwait(false)
                        : await BareQmpMigration.RunAsync(launcher, workload, directory, cancellationToken).ConfigureAwait(false);
                    (consoleSide ? console : bare).Add(run);
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"qemu-migration: {workload.Label}: {(consoleSide ? "console" : "bare   ")} {Describe(run)}"));
                }
            }

            rows.AddRange(Rows(workload, console, bare));
        }

        return rows;
    }

    private static IEnumerable<Measurement> Rows(MigrationWorkload workload, List<MigrationRun> console, List<MigrationRun> bare)
    {
        var w = workload.Label;
        var ratio = Median(console, r => r.DoneMs) / Median(bare, r => r.DoneMs);
        yield return new(Section, $"{w}: console (QemuMigration) wall, median", Median(console, r => r.DoneMs) / 1000, "s",
            Note: "destination start to completed and source quit; runs " + List(console, r => r.DoneMs / 1000, "0.000") + " s");
        yield return new(Section, $"{w}: bare QMP script wall, median", Median(bare, r => r.DoneMs) / 1000, "s",
            Note: string.Create(CultureInfo.InvariantCulture, $"same span, query-migrate every {BareQmpMigration.PollInterval.TotalMilliseconds:0} ms; runs ") + List(bare, r => r.DoneMs / 1000, "0.000") + " s");
        yield return new(Section, $"{w}: console / bare QMP wall time, as measured", ratio, "x",
            Note: string.Create(CultureInfo.InvariantCulture, $"medians of {console.Count} runs each, taking turns; best vs best {console.Min(r => r.DoneMs) / bare.Min(r => r.DoneMs):0.00}x; QEMU's own transfer time (total-time, below) varies from run to run whoever drives it"));

        // What the driver adds is everything but QEMU's transfer; with the transfer the same on both sides (the bare
        // script's median), the wall-time ratio is free of QEMU's run-to-run variation, which no driver causes.
        var transfer = Median(bare, r => r.QemuTotalTimeMs > 0 ? r.QemuTotalTimeMs : double.NaN);
        var consoleDriver = Median(console, r => r.DriverMs);
        var bareDriver = Median(bare, r => r.DriverMs);
        var equalised = (transfer + consoleDriver) / (transfer + bareDriver);
        yield return new(Section, $"{w}: driver's time (wall less QEMU total-time), console vs bare, median", consoleDriver, "ms",
            Note: "console runs " + List(console, r => r.DriverMs, "0") + string.Create(CultureInfo.InvariantCulture, $" ms; bare median {bareDriver:0} ms (runs ") + List(bare, r => r.DriverMs, "0") + " ms)");
        yield return new(Section, RatioName(workload), equalised, "x", Target: Target, Met: equalised <= TargetRatio,
            Note: string.Create(CultureInfo.InvariantCulture, $"({transfer:0} + {consoleDriver:0}) / ({transfer:0} + {bareDriver:0}) ms: each side's median driver time on the bare script's median transfer"));
        yield return new(Section, $"{w}: QEMU total-time (source query-migrate), median", Median(console, r => r.QemuTotalTimeMs > 0 ? r.QemuTotalTimeMs : double.NaN), "ms",
            Note: "console runs " + List(console, r => r.QemuTotalTimeMs, "0") + " ms (0: the console kept a completed answer without it); bare runs " + List(bare, r => r.QemuTotalTimeMs, "0") + string.Create(CultureInfo.InvariantCulture,
                $" ms; {console[0].NormalPages:N0} normal + {console[0].DuplicatePages:N0} zero pages (first console run)"));
        yield return new(Section, $"{w}: setup (destination start to migrate accepted), console vs bare", Median(console, r => r.SetupMs), "ms",
            Note: string.Create(CultureInfo.InvariantCulture, $"bare {Median(bare, r => r.SetupMs):0} ms"));
        yield return new(Section, $"{w}: completion noticed after QEMU completed, console vs bare", Median(console, r => r.NoticeLagMs), "ms",
            Note: "console runs " + List(console, r => r.NoticeLagMs, "0") + string.Create(CultureInfo.InvariantCulture,
                $" ms; bare median {Median(bare, r => r.NoticeLagMs):0} ms (runs ") + List(bare, r => r.NoticeLagMs, "0") + " ms); migrate accepted + total-time to completed seen");
        yield return new(Section, $"{w}: completed seen to done (source quit), console vs bare", Median(console, r => r.WrapUpMs), "ms",
            Note: string.Create(CultureInfo.InvariantCulture, $"bare {Median(bare, r => r.WrapUpMs):0} ms"));
    }

    private static string Target => string.Create(CultureInfo.InvariantCulture, $"<= {TargetRatio:0.00}x");

    private static string RatioName(MigrationWorkload workload) => $"{workload.Label}: console / bare QMP wall time, QEMU's transfer taken equal";

    private static string Describe(MigrationRun r) => string.Create(CultureInfo.InvariantCulture,
        $"setup {r.SetupMs:0} ms, completed seen {r.NoticedMs:0} ms (QEMU total-time {r.QemuTotalTimeMs} ms, seen {r.NoticeLagMs:0} ms after), done {r.DoneMs:0} ms; {r.NormalPages} normal + {r.DuplicatePages} zero pages");

    /// <summary>The median of the figures that are known (NaN when none is).</summary>
    private static double Median(List<MigrationRun> runs, Func<MigrationRun, double> figure)
    {
        var sorted = runs.Select(figure).Where(f => !double.IsNaN(f)).Order().ToList();
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string List(List<MigrationRun> runs, Func<MigrationRun, double> figure, string format) =>
        string.Join(", ", runs.Select(r => figure(r).ToString(format, CultureInfo.InvariantCulture)));
}
