using System.Globalization;

namespace VmConsole.Benchmarks.Engine;

/// <summary>
/// Multifd (<c>--only multifd</c>): Macro A's job (1 GiB microvm, half zero, unix socket, unlimited bandwidth) console to
/// console with multifd, compression none, on 1, 2 and 4 channels, and Macro B's job QEMU to QEMU with the same
/// capability and channel counts; plain precopy on both sides as the reference. Every setting takes turns with the
/// others and the two sides with each other, each run after 3 s of quiet (as Macro B); best of three per row.
/// </summary>
public sealed class MultifdSuite : IBenchmarkSuite
{
    private const string Section = "Multifd";
    private const string Skipped = "QEMU not installed: skipped";

    /// <summary>0 is plain precopy (no multifd), the reference.</summary>
    private static readonly int[] Channels = [0, 1, 2, 4];

    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(3);

    public string Name => "multifd";

    public int Order => 35;

    public async Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var size = MacroA.GuestBytes(options);
        var repeats = options.Quick ? 1 : 3;
        var ours = Channels.ToDictionary(c => c, _ => new List<EngineMacroResult>());
        var qemus = Channels.ToDictionary(c => c, _ => new List<(double Wall, long TotalTime)>());
        var memoryFile = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : options.WorkDirectory, $"vmconsole-bench-multifd-{Environment.ProcessId}.mem");
        try
        {
            if (QemuProcess.IsInstalled)
            {
                GuestPattern.WriteFile(memoryFile, size);
            }

            for (var i = 0; i < repeats; i++)
            {
                foreach (var channels in Channels)
                {
                    if (QemuProcess.IsInstalled)
                    {
                        await Task.Delay(SettleTime, cancellationToken).ConfigureAwait(false);
                        qemus[channels].Add(await QemuSuite.MigrateOnceAsync(memoryFile, size, channels).ConfigureAwait(false));
                    }

                    await Task.Delay(SettleTime, cancellationToken).ConfigureAwait(false);
                    ours[channels].Add(await MacroA.RunOnceAsync(options, cancellationToken, channels).ConfigureAwait(false));
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"multifd {channels}: console {ours[channels][^1].WallSeconds:0.000} s{(QemuProcess.IsInstalled ? $", QEMU {qemus[channels][^1].Wall:0.000} s" : "")}"));
                }
            }
        }
        finally
        {
            File.Delete(memoryFile);
        }

        var rows = new List<Measurement>();
        foreach (var channels in Channels)
        {
            var what = channels == 0 ? "plain precopy (reference)" : $"multifd, {channels} channel{(channels == 1 ? "" : "s")}, compression none";
            var best = ours[channels].MinBy(r => r.WallSeconds)!;
            rows.Add(new(Section, $"Console to console, {what}: wall time", best.WallSeconds, "s",
                Note: string.Create(CultureInfo.InvariantCulture,
                    $"{size >> 20} MiB, Macro A's job; best of {ours[channels].Count}: {List(ours[channels].Select(r => r.WallSeconds))} s; pass {best.PassSeconds:0.000} s, CPU {best.CpuSeconds:0.000} s (both ends), {best.TransferredBytes / 1e6:0} MB on the wire, verified {best.Verified}")));
            if (!QemuProcess.IsInstalled)
            {
                rows.Add(new(Section, $"QEMU to QEMU, {what}: wall time", double.NaN, "s", Note: Skipped));
                continue;
            }

            var qemu = qemus[channels].MinBy(r => r.Wall);
            rows.Add(new(Section, $"QEMU to QEMU, {what}: wall time", qemu.Wall, "s",
                Note: string.Create(CultureInfo.InvariantCulture,
                    $"Macro B's job; best of {qemus[channels].Count}: {List(qemus[channels].Select(r => r.Wall))} s; total-time {qemu.TotalTime} ms")));
            rows.Add(new(Section, $"VmConsole / QEMU wall time, {what}", best.WallSeconds / qemu.Wall, "x",
                Note: "best against best, runs taking turns"));
        }

        return rows;
    }

    private static string List(IEnumerable<double> seconds) =>
        string.Join(", ", seconds.Select(s => s.ToString("0.000", CultureInfo.InvariantCulture)));
}
