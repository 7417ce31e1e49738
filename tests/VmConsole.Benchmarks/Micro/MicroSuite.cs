using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using BenchmarkDotNet.Validators;
using Perfolizer.Horology;

namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// Issue 7's micro figures: BenchmarkDotNet in this process (it builds and spawns nothing), a short job, and its means
/// turned into rows: bandwidths in GB/s (10^9 bytes), times per GiB of guest memory, ratios with the issue's targets,
/// and bytes allocated per GiB.
/// </summary>
public sealed class MicroSuite : IBenchmarkSuite
{
    private const string Section = "Micro";
    private const double BytesPerGiB = 1L << 30;

    public string Name => "micro";

    public int Order => 10;

    public Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        MicroSizes.ScanBytes = options.Quick ? 64 << 20 : 256 << 20;
        MicroSizes.StreamBytes = options.Quick ? 64 << 20 : 1 << 30;

        // This suite's own folder: the reports and logs left in it are the last run's only.
        var artifacts = ArtifactsPath(options);
        if (Directory.Exists(artifacts))
        {
            Directory.Delete(artifacts, recursive: true);
        }

        var job = new Job("micro")
            .WithToolchain(new InProcessEmitToolchain(TimeSpan.FromMinutes(5), logOutput: true))
            .WithWarmupCount(options.Quick ? 1 : 3)
            .WithIterationCount(options.Quick ? 3 : 8)
            .WithIterationTime(TimeInterval.FromMilliseconds(options.Quick ? 100 : 300))
            .WithEvaluateOverhead(false);

        // Each sync clears what it takes: one invocation per iteration, after the iteration setup dirtied the bitmaps again.
        var syncJob = job.WithInvocationCount(1).WithUnrollFactor(1).WithIterationCount(options.Quick ? 5 : 15);

        var scan = Run<ZeroScanBenchmarks>(job, artifacts, cancellationToken);
        var copy = Run<PageCopyBenchmarks>(job, artifacts, cancellationToken);
        var sync = Run<DirtySyncBenchmarks>(syncJob, artifacts, cancellationToken);
        var stream = Run<StreamBenchmarks>(job, artifacts, cancellationToken);
        Console.Error.WriteLine($"  BenchmarkDotNet's reports and log: {artifacts}");

        var rows = new List<Measurement>();
        var scanned = MicroSizes.Describe(MicroSizes.ScanBytes);

        var zeroScan = Bandwidth(scan, nameof(ZeroScanBenchmarks.ZeroScan), MicroSizes.ScanBytes);
        var rawRead = Bandwidth(scan, nameof(ZeroScanBenchmarks.RawRead), MicroSizes.ScanBytes);
        rows.Add(new(Section, $"Zero-page scan (ContainsAnyExcept per 4 KiB page, {scanned} of written zero memory)", zeroScan, "GB/s",
            Note: "the check PrecopySender.SendWord makes, with GuestMemoryAccess.Span per page"));
        rows.Add(new(Section, "Raw read of the same memory (Vector256 OR over every byte)", rawRead, "GB/s"));
        rows.Add(Ratio("Zero scan vs raw read", zeroScan, rawRead, 0.5, ">= 0.5x raw read"));

        var memcpy = Bandwidth(copy, nameof(PageCopyBenchmarks.Memcpy), MicroSizes.ScanBytes);
        rows.Add(new(Section, $"memcpy (one Span.CopyTo, {scanned} to {scanned})", memcpy, "GB/s", Note: "reference; bytes copied, not read + written"));

        var send = Bandwidth(copy, nameof(PageCopyBenchmarks.SendWritePage), MicroSizes.ScanBytes);
        var sendCopy = Bandwidth(copy, nameof(PageCopyBenchmarks.SendCopyTo), MicroSizes.ScanBytes);
        rows.Add(new(Section, "Page copy, send: MigrationStreamWriter.WritePage (guest memory into the pipe's buffer)", send, "GB/s",
            Note: AllocationNote(copy, nameof(PageCopyBenchmarks.SendWritePage), MicroSizes.ScanBytes)));
        rows.Add(new(Section, "Span.CopyTo of the same 4 KiB pages into a buffer of the same size", sendCopy, "GB/s"));
        rows.Add(Ratio("WritePage vs Span.CopyTo", send, sendCopy));

        var receive = Bandwidth(copy, nameof(PageCopyBenchmarks.ReceiveOnPage), MicroSizes.ScanBytes);
        var receiveCopy = Bandwidth(copy, nameof(PageCopyBenchmarks.ReceiveCopyTo), MicroSizes.ScanBytes);
        rows.Add(new(Section, "Page copy, receive: DestinationSink.OnPage (a pipe buffer's page into guest memory)", receive, "GB/s",
            Note: AllocationNote(copy, nameof(PageCopyBenchmarks.ReceiveOnPage), MicroSizes.ScanBytes)));
        rows.Add(new(Section, "Span.CopyTo of the same 4 KiB pages into the same guest memory", receiveCopy, "GB/s"));
        rows.Add(Ratio("OnPage vs Span.CopyTo", receive, receiveCopy));

        foreach (var (method, dirty) in new[]
        {
            (nameof(DirtySyncBenchmarks.SyncFullyDirty), "fully dirty"),
            (nameof(DirtySyncBenchmarks.SyncOnePercentDirty), "1% dirty"),
            (nameof(DirtySyncBenchmarks.SyncClean), "clean"),
        })
        {
            rows.Add(new(Section, $"Dirty-bitmap sync (DirtyBitmap.SyncInto), 1 GiB block {dirty}", MeanNanoseconds(sync, method) / 1e3, "µs per GiB",
                Note: "262,144 pages, 4,096 words"));
        }

        var guest = MicroSizes.StreamBytes;
        var described = MicroSizes.Describe(guest);
        foreach (var (method, what, how) in new[]
        {
            (nameof(StreamBenchmarks.Encode), "Stream encode", "MigrationStreamWriter and the sender's zero check"),
            (nameof(StreamBenchmarks.Decode), "Stream decode", "MigrationStreamReader into DestinationSink"),
        })
        {
            var nanoseconds = MeanNanoseconds(stream, method);
            var note = method == nameof(StreamBenchmarks.Encode)
                ? "into MigrationChannel.InProcess (8 MiB window, 64 KiB segments), drained on another thread"
                : $"from the {StreamBenchmarks.EncodedBytes / (double)(1 << 20):0} MiB encoded stream in memory, in 64 KiB segments";
            rows.Add(new(Section, $"{what} ({how}, {described} RAM pass, half zero pages)", guest / nanoseconds, "GB/s",
                Note: "of guest memory; " + note));
            rows.Add(new(Section, $"{what}: time per GiB of guest memory", nanoseconds / 1e6 * BytesPerGiB / guest, "ms per GiB"));
            var allocated = AllocatedPerGiB(stream, method, guest);
            rows.Add(new(Section, $"{what}: bytes allocated per GiB of guest memory", allocated, "B per GiB",
                "no allocation per page", double.IsNaN(allocated) ? null : allocated < MicroSizes.PagesPerGiB,
                "met below 1 byte per 4 KiB page (then only per-stream objects remain)"));
        }

        var failed = $"no result: see BenchmarkDotNet's log in {artifacts}";
        return Task.FromResult<IReadOnlyList<Measurement>>([.. rows.Select(r => double.IsNaN(r.Value) ? r with { Met = null, Note = failed } : r)]);
    }

    private static Summary Run<T>(Job job, string artifacts, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Console.Error.WriteLine($"  {typeof(T).Name} ...");
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddLogger(new StderrLogger())
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddExporter(MarkdownExporter.GitHub)
            .AddValidator(JitOptimizationsValidator.FailOnError)
            .WithArtifactsPath(artifacts);
        var summary = BenchmarkRunner.Run<T>(config);
        if (summary.HasCriticalValidationErrors)
        {
            throw new InvalidOperationException(
                $"BenchmarkDotNet refused {typeof(T).Name}: {string.Join("; ", summary.ValidationErrors.Select(e => e.Message))}");
        }

        return summary;
    }

    private static Measurement Ratio(string name, double value, double baseline, double? target = null, string? targetText = null)
    {
        var ratio = value / baseline;
        return new(Section, name, ratio, "x", targetText, target is { } t && !double.IsNaN(ratio) ? ratio >= t : null);
    }

    private static double Bandwidth(Summary summary, string method, long bytes) => bytes / MeanNanoseconds(summary, method);

    /// <summary>Mean time of one operation in ns, or NaN when the benchmark failed (its error is in BenchmarkDotNet's log).</summary>
    private static double MeanNanoseconds(Summary summary, string method)
    {
        if (Report(summary, method)?.ResultStatistics?.Mean is { } mean)
        {
            return mean;
        }

        Console.Error.WriteLine($"error: {method} gave no result; see {summary.LogFilePath}");
        return double.NaN;
    }

    private static double AllocatedPerGiB(Summary summary, string method, long bytes) =>
        Report(summary, method) is { } report && report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase) is { } allocated
            ? allocated * BytesPerGiB / bytes
            : double.NaN;

    private static string AllocationNote(Summary summary, string method, long bytes) =>
        AllocatedPerGiB(summary, method, bytes) is var allocated && double.IsNaN(allocated)
            ? "allocations not measured"
            : $"{allocated:N0} B allocated per GiB";

    private static BenchmarkReport? Report(Summary summary, string method) =>
        summary.Reports.FirstOrDefault(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method);

    /// <summary>The repository's git-ignored artifacts/ folder, or the run's scratch directory when the build does not say where that is.</summary>
    private static string ArtifactsPath(BenchmarkOptions options)
    {
        var root = RepositoryRoot.TryFind();
        return root is not null
            ? Path.Combine(root, "artifacts", "benchmarks", "micro")
            : Path.Combine(options.WorkDirectory, "micro");
    }
}
