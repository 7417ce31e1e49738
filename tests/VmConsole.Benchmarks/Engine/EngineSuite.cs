using System.Globalization;

namespace VmConsole.Benchmarks.Engine;

/// <summary>
/// Macro A: a 1 GiB VM (half zero, half random, see <see cref="GuestPattern"/>) migrated console to console over a unix
/// socket with unlimited bandwidth, both ends in one child process. Best of five runs (the peak memory is the highest of them).
/// </summary>
public sealed class EngineSuite : IBenchmarkSuite
{
    private const string Section = "Macro A";

    public string Name => "engine";

    public int Order => 20;

    public async Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var runs = await MacroA.MeasureAsync(options, cancellationToken).ConfigureAwait(false);
        var best = runs.MinBy(r => r.WallSeconds)!;
        var peak = runs.Max(r => r.PeakRssMiB);
        var size = best.GuestBytes;
        var mib = size >> 20;
        var peakLimit = (2.0 * best.NonZeroBytes / (1 << 20)) + 128;
        var passRate = size / best.PassSeconds / 1e9;
        var memcpyRate = size / best.MemcpyColdSeconds / 1e9;
        var passRatio = passRate / memcpyRate;
        var what = $"{mib} MiB microvm, half zero (alternating 2 MiB runs), idle, unix socket, unlimited bandwidth; best of {runs.Count}";
        return
        [
            new(Section, "Migration wall time (start to completed)", best.WallSeconds, "s",
                Note: string.Create(CultureInfo.InvariantCulture,
                    $"{what}; setup {best.SetupSeconds:0.000} s, pass {best.PassSeconds:0.000} s, switchover+verify {best.SwitchoverSeconds:0.000} s, source freed at {best.FinishedSeconds:0.000} s, CPU {best.CpuSeconds:0.000} s (user+sys, both ends); runs {string.Join(", ", runs.Select(r => r.WallSeconds.ToString("0.000", CultureInfo.InvariantCulture)))} s")),
            new(Section, "Guest bytes per second (wall)", size / best.WallSeconds / 1e9, "GB/s",
                Note: string.Create(CultureInfo.InvariantCulture,
                    $"{best.TransferredBytes / 1e6:0} MB on the wire, {best.ZeroPages} zero + {best.NormalPages} normal pages, verified {best.Verified}; {best.AllocatedBytes / 1024.0:0} KiB allocated on the managed heap during the migration")),
            new(Section, "Peak resident memory (child process VmHWM)", peak, "MiB",
                Target: string.Create(CultureInfo.InvariantCulture, $"<= 2 x non-zero + 128 MiB = {peakLimit:0} MiB"),
                Met: peak <= peakLimit,
                Note: string.Create(CultureInfo.InvariantCulture,
                    $"{best.NonZeroBytes >> 20} MiB non-zero guest bytes; RSS {best.BaselineRssMiB:0} MiB at start, {best.FilledRssMiB:0} MiB with the source filled")),
            new(Section, "Unthrottled pass vs memcpy", passRatio, "x",
                Target: ">= 0.5x",
                Met: passRatio >= 0.5,
                Note: string.Create(CultureInfo.InvariantCulture,
                    $"pass {passRate:0.00} GB/s (active to device) vs Span.CopyTo of the same {mib} MiB into a fresh mapping {memcpyRate:0.00} GB/s (into a faulted-in one: {size / best.MemcpyWarmSeconds / 1e9:0.00} GB/s)")),
        ];
    }
}

/// <summary>Runs Macro A's child and keeps its results, so that Macro B compares against the same runs.</summary>
internal static class MacroA
{
    private static IReadOnlyList<EngineMacroResult>? s_runs;

    public static long GuestBytes(BenchmarkOptions options) => options.Quick ? 256L << 20 : 1L << 30;

    /// <summary>Runs of each measurement: the machine's noise (other processes, how fast the kernel finds memory) is large.</summary>
    public static int Repeats(BenchmarkOptions options) => options.Quick ? 1 : 5;

    public static async Task<IReadOnlyList<EngineMacroResult>> MeasureAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        if (s_runs is { } done)
        {
            return done;
        }

        var runs = new List<EngineMacroResult>();
        for (var i = 0; i < Repeats(options); i++)
        {
            runs.Add(await RunOnceAsync(options, cancellationToken).ConfigureAwait(false));
        }

        s_runs = runs;
        return runs;
    }

    /// <summary>One run of Macro A in its own child process; with multifd and that many channels when <paramref name="multifdChannels"/> is above 0.</summary>
    public static Task<EngineMacroResult> RunOnceAsync(BenchmarkOptions options, CancellationToken cancellationToken, int multifdChannels = 0) =>
        ChildProcess.RunAsync<EngineMacroResult>(
            EngineMacroChild.Name,
            [GuestBytes(options).ToString(CultureInfo.InvariantCulture), options.WorkDirectory, multifdChannels.ToString(CultureInfo.InvariantCulture)],
            TimeSpan.FromMinutes(5),
            cancellationToken);
}
