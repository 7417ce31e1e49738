using System.Diagnostics;
using System.Globalization;
using VmConsole.Emulation;
using VmConsole.Qemu.Guests;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Qmp;

namespace VmConsole.Benchmarks.Qemu;

/// <summary>
/// QMP round trips through the console's <see cref="QmpClient"/>: from <c>ExecuteAsync</c> to its reply, one command at
/// a time, on two running QEMUs started by <see cref="QemuLauncher"/>: an idle 256 MiB microvm and a 256 MiB pc whose
/// sweep guest keeps a vCPU busy (the main loop then shares the machine with TCG). <c>query-status</c> and
/// <c>query-migrate</c> (no migration: QEMU answers from its main loop), after a warm-up; p50, p95 and p99 in µs.
/// </summary>
public sealed class QmpRoundTripSuite : IBenchmarkSuite
{
    private const string Section = "QMP";
    private const int WarmUp = 500;
    private static readonly string[] Commands = ["query-status", "query-migrate"];
    private static readonly double[] Percentiles = [0.50, 0.95, 0.99];

    public string Name => "qmp";

    public int Order => 32;

    public async Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var vms = new (string Label, QemuVmSpec Spec)[]
        {
            ("microvm, idle", new QemuVmSpec("qmp-microvm", "microvm", 256 * Sizes.MiB)),
            ("pc, sweep guest", new QemuVmSpec("qmp-pc", "pc", 256 * Sizes.MiB) { Guest = SweepGuest.For(256 * Sizes.MiB) }),
        };
        var binary = QemuLauncher.FindBinary();
        if (binary is null)
        {
            return [.. from vm in vms from command in Commands from p in Percentiles
                       select new Measurement(Section, RowName(command, vm.Label, p), double.NaN, "µs", Note: "QEMU not installed: skipped")];
        }

        var samples = options.Quick ? 2_000 : 20_000;
        var launcher = new QemuLauncher(binary);
        var rows = new List<Measurement>();
        foreach (var (label, spec) in vms)
        {
            await using var reaper = new QemuReaper();
            var directory = reaper.Track(Path.Combine(options.WorkDirectory, spec.Name));
            var qemu = await launcher.StartAsync(spec, directory, cancellationToken).ConfigureAwait(false);
            try
            {
                // Let the firmware (and the guest) get going, so that the figures are those of a VM that runs.
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                var status = (await qemu.Qmp.ExecuteAsync("query-status", cancellationToken: cancellationToken).ConfigureAwait(false)).GetProperty("status").GetString();
                foreach (var command in Commands)
                {
                    var micros = await MeasureAsync(qemu.Qmp, command, samples, cancellationToken).ConfigureAwait(false);
                    var note = string.Create(CultureInfo.InvariantCulture,
                        $"{samples:N0} sequential {command} after {WarmUp} warm-up, QEMU {status}; mean {micros.Average():0.0} µs, min {micros[0]:0.0}, max {micros[^1]:0.0}");
                    Console.Error.WriteLine($"qmp: {label}: {note}");
                    rows.AddRange(Percentiles.Select(p => new Measurement(Section, RowName(command, label, p), Percentile(micros, p), "µs", Note: p == 0.50 ? note : null)));
                }
            }
            finally
            {
                await qemu.QuitAsync(TimeSpan.FromSeconds(10), cancellationToken: CancellationToken.None).ConfigureAwait(false);
                await qemu.DisposeAsync().ConfigureAwait(false);
            }
        }

        return rows;
    }

    /// <summary>The round-trip times of <paramref name="count"/> commands, in µs, sorted.</summary>
    private static async Task<double[]> MeasureAsync(QmpClient qmp, string command, int count, CancellationToken cancellationToken)
    {
        for (var i = 0; i < WarmUp; i++)
        {
            await qmp.ExecuteAsync(command, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        var micros = new double[count];
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await qmp.ExecuteAsync(command, cancellationToken: cancellationToken).ConfigureAwait(false);
            micros[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        Array.Sort(micros);
        return micros;
    }

    private static string RowName(string command, string vm, double p) =>
        string.Create(CultureInfo.InvariantCulture, $"{command} round trip p{p * 100:0} ({vm})");

    private static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
