using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using VmConsole.Emulation;
using VmConsole.Migration.Qemu;

namespace VmConsole.Benchmarks.Qemu;

/// <summary>
/// Importing a stream QEMU 7.2 wrote: a 1 GiB microvm stopped with <c>-S</c> whose RAM holds Macro A's content from
/// 2 MiB up (a generic loader puts <see cref="Engine.GuestPattern"/> there: half zero pages, in alternating 2 MiB runs),
/// saved with <c>migrate exec:cat &gt; FILE</c>. Then, taking turns after a few seconds of quiet each: the console's
/// import (<see cref="QemuStreamImport"/> reading the file into a new VM) and a QEMU started the same way with
/// <c>-incoming defer</c> loading the same file (<c>migrate-incoming exec:cat FILE</c> to its MIGRATION completed event).
/// One unrecorded warm-up run of each first. Target: the console at most 0.5x QEMU's wall time (best against best).
/// </summary>
public sealed class QemuImportSuite : IBenchmarkSuite
{
    private const string Section = "QEMU import";
    private const double TargetRatio = 0.5;
    private const long Guest = 1L << 30;
    private const long LoadAt = 2 << 20;

    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(3);

    public string Name => "qemu-import";

    public int Order => 36;

    public async Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var target = string.Create(CultureInfo.InvariantCulture, $"<= {TargetRatio:0.0}x");
        if (!QemuProcess.IsInstalled)
        {
            return [new(Section, "Console import / QEMU migrate-incoming wall time", double.NaN, "x", Target: target, Note: "QEMU not installed: skipped")];
        }

        var size = options.Quick ? 256L << 20 : Guest;
        var scratch = Directory.Exists("/dev/shm") ? "/dev/shm" : options.WorkDirectory;
        var content = Path.Combine(scratch, $"vmconsole-import-{Environment.ProcessId}.bin");
        var stream = Path.Combine(scratch, $"vmconsole-import-{Environment.ProcessId}.mig");
        var console = new List<(double Wall, double Cpu)>();
        var qemu = new List<(double Wall, double Cpu)>();
        try
        {
            Engine.GuestPattern.WriteFile(content, size - LoadAt);
            var (normal, duplicate) = await SaveAsync(content, stream, size).ConfigureAwait(false);
            File.Delete(content);
            var repeats = options.Quick ? 1 : 3;
            for (var i = -1; i < repeats; i++)
            {
                await Task.Delay(SettleTime, cancellationToken).ConfigureAwait(false);
                var ours = await ImportOnceAsync(stream, cancellationToken).ConfigureAwait(false);
                await Task.Delay(SettleTime, cancellationToken).ConfigureAwait(false);
                var theirs = await LoadInQemuOnceAsync(stream, size).ConfigureAwait(false);
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"qemu-import: {(i < 0 ? "warm-up " : "")}console {ours.Wall:0.0} ms (CPU {ours.Cpu:0} ms), QEMU {theirs.Wall:0.0} ms (CPU {theirs.Cpu:0} ms)"));
                if (i >= 0)
                {
                    console.Add(ours);
                    qemu.Add(theirs);
                }
            }

            var streamBytes = new FileInfo(stream).Length;
            var ratio = console.Min(r => r.Wall) / qemu.Min(r => r.Wall);
            var cpuRatio = console.Min(r => r.Cpu) / qemu.Min(r => r.Cpu);
            var what = string.Create(CultureInfo.InvariantCulture,
                $"{size >> 20} MiB microvm saved by QEMU 7.2 (migrate exec:cat), {normal:N0} normal + {duplicate:N0} zero pages, {streamBytes / (double)(1 << 20):0} MiB stream in {scratch}");
            return
            [
                new(Section, "Console import (QemuStreamImport, file to running VM), best", console.Min(r => r.Wall), "ms", Note: what + "; runs " + List(console, r => r.Wall) + " ms"),
                new(Section, "QEMU loading the same file (migrate-incoming exec:cat to completed), best", qemu.Min(r => r.Wall), "ms", Note: "-incoming defer, same machine; runs " + List(qemu, r => r.Wall) + " ms"),
                new(Section, "Console / QEMU CPU time of the load, best against best", cpuRatio, "x",
                    Note: "not a target; less dependent on the machine's load than wall time: the console process's user + system time over the import ("
                        + List(console, r => r.Cpu) + " ms) against QEMU's and its cat's from migrate-incoming to completed (" + List(qemu, r => r.Cpu) + " ms)"),
                new(Section, "Console import / QEMU migrate-incoming wall time", ratio, "x", Target: target, Met: ratio <= TargetRatio,
                    Note: string.Create(CultureInfo.InvariantCulture, $"best of {console.Count} each, taking turns after {SettleTime.TotalSeconds:0} s of quiet, after one warm-up run each")),
            ];
        }
        finally
        {
            File.Delete(content);
            File.Delete(stream);
        }
    }

    private static string[] Machine(long size) =>
        ["-M", "microvm", "-m", (size >> 20).ToString(CultureInfo.InvariantCulture) + "M"];

    /// <summary>QEMU writes the stream: returns its normal and zero page counts.</summary>
    private static async Task<(long Normal, long Duplicate)> SaveAsync(string content, string stream, long size)
    {
        var load = string.Create(CultureInfo.InvariantCulture, $"loader,file={content},addr=0x{LoadAt:x},force-raw=on");
        await using var source = await QemuProcess.StartAsync([.. Machine(size), "-device", load], qtest: false).ConfigureAwait(false);
        await source.QmpAsync("migrate-set-parameters", new Dictionary<string, object> { ["max-bandwidth"] = 1L << 40 }).ConfigureAwait(false);
        await source.QmpAsync("migrate", new { uri = $"exec:cat > {stream}" }).ConfigureAwait(false);
        var info = await source.WaitMigrationAsync().ConfigureAwait(false);
        var ram = info["ram"]!;
        return (ram["normal"]!.GetValue<long>(), ram["duplicate"]!.GetValue<long>());
    }

    private static async Task<(double Wall, double Cpu)> ImportOnceAsync(string stream, CancellationToken cancellationToken)
    {
        using var emulator = new Emulator();
        emulator.AddHost("bench", 4 * Guest);
        var import = new QemuStreamImport(emulator);
        using var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await using (var file = new FileStream(stream, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan))
        {
            await import.ImportAsync("imported", "bench", file, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        var ms = clock.Elapsed.TotalMilliseconds;
        self.Refresh();
        var cpuMs = (self.TotalProcessorTime - cpu).TotalMilliseconds;
        await emulator.DeleteVmAsync("imported").ConfigureAwait(false);
        return (ms, cpuMs);
    }

    private static async Task<(double Wall, double Cpu)> LoadInQemuOnceAsync(string stream, long size)
    {
        await using var destination = await QemuProcess.StartAsync([.. Machine(size), "-incoming", "defer"], qtest: false).ConfigureAwait(false);
        object events = new { capabilities = new[] { new { capability = "events", state = true } } };
        await destination.QmpAsync("migrate-set-capabilities", events).ConfigureAwait(false);
        var cpu = CpuMilliseconds(destination.Pid);
        var clock = Stopwatch.StartNew();
        await destination.QmpAsync("migrate-incoming", new { uri = $"exec:cat {stream}" }).ConfigureAwait(false);
        var final = await destination.WaitEventAsync("MIGRATION", IsFinal).ConfigureAwait(false);
        var ms = clock.Elapsed.TotalMilliseconds;
        if (final?["status"]?.GetValue<string>() != "completed")
        {
            throw new InvalidOperationException($"QEMU's incoming migration ended {final?["status"]}; stderr: {destination.Stderr}");
        }

        return (ms, CpuMilliseconds(destination.Pid) - cpu);
    }

    /// <summary>User + system time of process <paramref name="pid"/> and of its children it has waited for (the exec: cat), from /proc.</summary>
    private static double CpuMilliseconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // utime, stime, cutime, cstime: fields 14-17 of stat(5), 11-14 after the command name and state.
        var ticks = fields[11..15].Sum(f => long.Parse(f, CultureInfo.InvariantCulture));
        return ticks * 1000.0 / 100; // USER_HZ
    }

    private static bool IsFinal(JsonNode? data) => data?["status"]?.GetValue<string>() is "completed" or "failed" or "cancelled";

    private static string List(List<(double Wall, double Cpu)> runs, Func<(double Wall, double Cpu), double> figure) =>
        string.Join(", ", runs.Select(r => figure(r).ToString("0", CultureInfo.InvariantCulture)));
}
