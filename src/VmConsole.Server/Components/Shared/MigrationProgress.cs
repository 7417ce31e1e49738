using VmConsole.Emulation;
using VmConsole.Migration.Model;
using VmConsole.Server.Api;

namespace VmConsole.Server.Components.Shared;

/// <summary>
/// Percent done, elapsed time and ETA of one migration as one view shows them over time: the percent never runs
/// backwards (the highest shown is kept), and when QEMU's remaining grows the view says so instead of jumping back.
/// Kept by the view (one per migration it shows); <see cref="Update"/> is called on the renderer's thread only.
/// </summary>
public sealed class MigrationProgress
{
    // Written and read by Update only, on the renderer's thread.
    private double _shown;
    private long? _lowestRemaining;

    /// <summary>
    /// The figures for <paramref name="m"/> now, given what this view showed before. <paramref name="liveDirtyPagesRate"/>
    /// is the guest's dirty rate as measured now, where the view has it (else QEMU's at the last sync is used).
    /// </summary>
    public MigrationFigures Update(MigrationDto m, double? liveDirtyPagesRate = null)
    {
        var status = MigrationStatusNames.TryParse(m.Status, out var parsed) ? parsed : MigrationStatus.None;
        var incoming = m.Direction == MigrationDirection.Incoming.ToApiName();
        var percent = status == MigrationStatus.Completed ? 100
            : m.Ram.Total <= 0 ? 0
            : 100.0 * (m.Ram.Total - Math.Clamp(m.Ram.Remaining, 0, m.Ram.Total)) / m.Ram.Total;
        var grew = !status.IsFinal() && _lowestRemaining is { } lowest && m.Ram.Remaining > lowest;
        _lowestRemaining = _lowestRemaining is { } before ? Math.Min(before, m.Ram.Remaining) : m.Ram.Remaining;
        _shown = Math.Max(_shown, percent);

        var bytesPerSecond = m.Ram.Mbps * 1e6 / 8;
        // Remaining over throughput is an ETA only while the migration gains on the guest: a guest that dirties at
        // least as fast as the migration sends leaves as much after each pass, and precopy does not end on its own.
        var dirtyBytesPerSecond = (liveDirtyPagesRate ?? m.Ram.DirtyPagesRate) * m.Ram.PageSize;
        var outpaced = status is MigrationStatus.Active && !incoming && bytesPerSecond > 0 && dirtyBytesPerSecond >= bytesPerSecond;
        TimeSpan? eta = !status.IsFinal() && !incoming && !outpaced && bytesPerSecond > 0 && m.Ram.Total > 0
            ? TimeSpan.FromSeconds(m.Ram.Remaining / bytesPerSecond)
            : null;
        return new MigrationFigures(_shown, grew, TimeSpan.FromMilliseconds(m.TotalTime), eta, status) { Outpaced = outpaced };
    }
}

/// <summary>What a view shows of a migration's progress: <see cref="Percent"/> never goes down between two updates.</summary>
public sealed record MigrationFigures(double Percent, bool RemainingGrew, TimeSpan Elapsed, TimeSpan? Eta, MigrationStatus Status)
{
    public string PercentText => $"{Math.Floor(Percent):0} %";

    /// <summary>The guest dirties at least as fast as the migration sends: no end in sight for precopy.</summary>
    public bool Outpaced { get; init; }

    /// <summary>"about 1 min 5 s", "done" once completed, "none while ..." when outpaced, "—" when not known.</summary>
    public string EtaText => Status == MigrationStatus.Completed ? "done"
        : Outpaced ? "none while the guest dirties as fast as this sends"
        : Eta is { } eta ? $"about {Display.Duration(eta)}" : "—";

    public string ElapsedText => Display.Duration(Elapsed);

    /// <summary>
    /// Said instead of moving the bar back. Remaining grows at each dirty sync by what the guest dirtied during the pass;
    /// when the guest dirties faster than the migration sends, it will keep growing.
    /// </summary>
    public static string GrewNote(double dirtyBytesPerSecond, double sentBytesPerSecond) =>
        dirtyBytesPerSecond > 0 && dirtyBytesPerSecond >= sentBytesPerSecond
            ? $"remaining grew: the guest dirties faster than the migration sends ({Display.ByteRate(dirtyBytesPerSecond)} against {Display.ByteRate(sentBytesPerSecond)}); the bar holds at its highest"
            : "remaining grew: the pages the guest dirtied during the last pass are sent again; the bar holds at its highest";
}
