namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// How much memory the micro benchmarks touch. BenchmarkDotNet creates the benchmark classes itself, so the suite sets
/// these before it runs them (in process, the classes read the same statics).
/// </summary>
internal static class MicroSizes
{
    public const int PageSize = VmConsole.Migration.Wire.QemuFormat.TargetPageSize;

    /// <summary>Pages in one GiB of guest memory: a 1 GiB block's dirty bitmap has this many bits.</summary>
    public const long PagesPerGiB = (1L << 30) / PageSize;

    /// <summary>Memory scanned or copied by the scan and copy benchmarks: well beyond the last-level cache.</summary>
    public static int ScanBytes { get; set; } = 256 << 20;

    /// <summary>Guest memory of one RAM pass for the stream encode and decode benchmarks.</summary>
    public static int StreamBytes { get; set; } = 1 << 30;

    public static string Describe(long bytes) => bytes >= 1L << 30 ? $"{bytes >> 30} GiB" : $"{bytes >> 20} MiB";
}
