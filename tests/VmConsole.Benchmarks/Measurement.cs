namespace VmConsole.Benchmarks;

/// <summary>
/// One row of the table: a figure, its unit, and, where the issue sets one, the target and whether this run met it.
/// </summary>
/// <param name="Section">Micro, Macro A, Macro B, ...</param>
/// <param name="Name">What was measured, in a user's words.</param>
/// <param name="Value">The figure; NaN when it could not be measured (see <paramref name="Note"/>).</param>
/// <param name="Unit">GB/s, s, ms, MiB, x, updates/s ...</param>
/// <param name="Target">The target as text (e.g. "<= 0.8x"), or null when the row has none.</param>
/// <param name="Met">Whether the target holds in this run; null without a target or a value.</param>
/// <param name="Note">Why a figure is missing, or what it was measured against.</param>
public sealed record Measurement(
    string Section,
    string Name,
    double Value,
    string Unit,
    string? Target = null,
    bool? Met = null,
    string? Note = null);

/// <summary>One group of figures (micro, engine, QEMU, hub, table). The runner finds every implementation by reflection.</summary>
public interface IBenchmarkSuite
{
    /// <summary>Short name used by <c>--only</c> (e.g. "micro", "engine", "hub", "table").</summary>
    string Name { get; }

    /// <summary>Where its rows go in the table (lower first).</summary>
    int Order { get; }

    /// <summary>
    /// Runs and returns the rows. A suite that cannot run here (no QEMU, no Chromium) returns rows with NaN and a note;
    /// it does not throw. <paramref name="options"/> carries <c>--quick</c> for a smaller, faster run.
    /// </summary>
    Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken);
}

/// <param name="Quick">Smaller sizes and fewer iterations: for checking the driver works, not for the README figures.</param>
/// <param name="Only">Suite names to run; empty for all.</param>
/// <param name="WorkDirectory">Scratch space for sockets and files (removed at the end).</param>
public sealed record BenchmarkOptions(bool Quick, IReadOnlySet<string> Only, string WorkDirectory);
