using System.Diagnostics;
using VmConsole.Emulation;
using VmConsole.Emulation.Memory;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;

namespace VmConsole.Benchmarks.Engine;

/// <summary>
/// What one run of Macro A measured, as the child process prints it (one JSON line). The wall time ends when the
/// migration is completed (the destination has everything and runs); <c>FinishedSeconds</c> also counts freeing the source.
/// </summary>
internal sealed record EngineMacroResult(
    long GuestBytes,
    long NonZeroBytes,
    double WallSeconds,
    double FinishedSeconds,
    double SetupSeconds,
    double PassSeconds,
    double SwitchoverSeconds,
    long TotalTimeMs,
    long TransferredBytes,
    long ZeroPages,
    long NormalPages,
    bool Verified,
    double BaselineRssMiB,
    double FilledRssMiB,
    double PeakRssMiB,
    double MemcpyColdSeconds,
    double MemcpyWarmSeconds,
    long AllocatedBytes,
    double CpuSeconds);

/// <summary>
/// Macro A in a process of its own (<c>--child engine-a SIZE</c>), so that its peak resident memory (VmHWM) is its own:
/// a VM of SIZE bytes on host-a, <see cref="GuestPattern"/> content, idle, migrated to host-b over a unix socket with
/// unlimited bandwidth through <see cref="MigrationEngine"/> (the path the server takes for console-to-console with a
/// <c>unix:</c> URI), after five 128 MiB warm-up migrations (so that what is measured is optimised code, as in a server that has migrated before, not the JIT). Then, after the peak was read, a plain Span.CopyTo of the same bytes into a fresh mapping.
/// </summary>
internal static class EngineMacroChild
{
    public const string Name = "engine-a";

    /// <summary>The migration before the measured one, so that the measured one runs compiled code, as in a server that has migrated before.</summary>
    private const long WarmUpBytes = 128 << 20;

    private const int WarmUpRounds = 5;

    /// <param name="size">Guest bytes.</param>
    /// <param name="workDirectory">Where the socket goes.</param>
    /// <param name="multifdChannels">0 for plain precopy (Macro A); else multifd with this many channels, compression none (the multifd job), warm-ups included.</param>
    public static async Task<EngineMacroResult> RunAsync(long size, string workDirectory, int multifdChannels = 0)
    {
        var baseline = ProcessMemory.ResidentMiB();
        using var emulator = new Emulator();
        emulator.AddHost("host-a", 4 * size);
        emulator.AddHost("host-b", 4 * size);
        await using var engine = new MigrationEngine(emulator);
        var socket = Path.Combine(workDirectory, "engine-a.sock");

        for (var round = 0; round < WarmUpRounds; round++)
        {
            Fill(emulator.CreateVm(new VmDefinition("warm-up", "host-a", "microvm", WarmUpBytes) { Start = true }));
            var warmUp = engine.Start(Request("warm-up", socket, multifdChannels));
            await warmUp.Finished.ConfigureAwait(false);
            await emulator.DeleteVmAsync("warm-up").ConfigureAwait(false);

            // Tiered compilation promotes hot methods in the background once calls settle (100 ms without new tier-0 code).
            await Task.Delay(TimeSpan.FromMilliseconds(300)).ConfigureAwait(false);
        }

        // What the warm-ups left on the managed heap is theirs, not the measured migration's: give it back to the OS.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

        var vm = emulator.CreateVm(new VmDefinition("bench", "host-a", "microvm", size) { Start = true });
        Fill(vm);
        var filled = ProcessMemory.ResidentMiB();
        var clock = Stopwatch.StartNew();
        var marks = new Dictionary<MigrationStatus, TimeSpan>();
        engine.Registry.Started += migration => migration.StatusChanged += (_, status) =>
        {
            lock (marks)
            {
                marks.TryAdd(status, clock.Elapsed);
            }
        };

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        clock.Restart();
        // VMCONSOLE_BENCH_PERF_MARKS=1: the measured window in CLOCK_MONOTONIC seconds, for perf record -k CLOCK_MONOTONIC
        // and then perf report --time START,END.
        var perfMarks = Environment.GetEnvironmentVariable("VMCONSOLE_BENCH_PERF_MARKS") == "1";
        var windowStart = Stopwatch.GetTimestamp();
        var job = engine.Start(Request("bench", socket, multifdChannels));
        await job.Finished.ConfigureAwait(false);
        var finished = clock.Elapsed;
        if (perfMarks)
        {
            Console.Error.WriteLine($"PERFMARK {windowStart / (double)Stopwatch.Frequency:0.000000} {Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency:0.000000}");
        }
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var peak = ProcessMemory.PeakResidentMiB();
        var stats = job.GetStats();
        if (job.Status != MigrationStatus.Completed)
        {
            throw new InvalidOperationException($"Macro A's migration (multifd channels {multifdChannels}) ended {job.Status.ToQemuName()}: {job.ErrorDesc}");
        }

        TimeSpan Mark(MigrationStatus status)
        {
            lock (marks)
            {
                return marks[status];
            }
        }

        var (cold, warm) = Memcpy(emulator.GetVm("bench"));
        return new EngineMacroResult(
            size,
            GuestPattern.NonZeroBytes(size),
            Mark(MigrationStatus.Completed).TotalSeconds,
            finished.TotalSeconds,
            Mark(MigrationStatus.Active).TotalSeconds,
            (Mark(MigrationStatus.Device) - Mark(MigrationStatus.Active)).TotalSeconds,
            (Mark(MigrationStatus.Completed) - Mark(MigrationStatus.Device)).TotalSeconds,
            stats.TotalTime,
            stats.Transferred,
            stats.Duplicate,
            stats.Normal,
            job.Verified == true,
            baseline,
            filled,
            peak,
            cold,
            warm,
            allocated,
            cpu.TotalSeconds);
    }

    /// <summary>To host-b over the unix socket, unlimited bandwidth; with multifd (compression none) when <paramref name="multifdChannels"/> is above 0.</summary>
    private static MigrationRequest Request(string vm, string socket, int multifdChannels) => new(vm)
    {
        DestinationHost = "host-b",
        Uri = "unix:" + socket,
        Parameters = MigrationParameters.Default with
        {
            MaxBandwidth = 0,
            MultifdChannels = multifdChannels > 0 ? multifdChannels : MigrationParameters.Default.MultifdChannels,
            MultifdCompression = VmConsole.Migration.Wire.MultifdCompression.None,
        },
        Capabilities = MigrationCapabilities.Default with { Multifd = multifdChannels > 0 },
    };

    private static unsafe void Fill(Vm vm)
    {
        using var memory = vm.MainRam.AcquireMemory();
        var span = memory.Span(0, checked((int)vm.MainRam.UsedLength));
        fixed (byte* start = span)
        {
            GuestPattern.Fill(start, span.Length);
        }
    }

    /// <summary>The same bytes copied by Span.CopyTo into a fresh mapping (cold: every page faults in, as on a destination), then again (warm); the better of two of each.</summary>
    private static (double Cold, double Warm) Memcpy(Vm migrated)
    {
        using var source = migrated.MainRam.AcquireMemory();
        var length = checked((int)migrated.MainRam.UsedLength);
        var from = source.Span(0, length);
        var cold = double.MaxValue;
        var warm = double.MaxValue;
        for (var round = 0; round < 2; round++)
        {
            using var target = new GuestMemory(length);
            using var access = target.Acquire();
            var to = access.Span(0, length);
            var clock = Stopwatch.StartNew();
            from.CopyTo(to);
            cold = Math.Min(cold, clock.Elapsed.TotalSeconds);
            clock.Restart();
            from.CopyTo(to);
            warm = Math.Min(warm, clock.Elapsed.TotalSeconds);
        }

        return (cold, warm);
    }
}

/// <summary>This process's resident memory from /proc/self/status (NaN where there is none).</summary>
internal static class ProcessMemory
{
    public static double ResidentMiB() => Read("VmRSS:");

    public static double PeakResidentMiB() => Read("VmHWM:");

    private static double Read(string field)
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path))
        {
            return double.NaN;
        }

        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                var kib = long.Parse(line.AsSpan(field.Length).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
                return kib / 1024.0;
            }
        }

        return double.NaN;
    }
}
