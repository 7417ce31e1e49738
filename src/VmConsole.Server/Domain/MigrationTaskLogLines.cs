using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;
using VmConsole.Server.Api;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Domain;

/// <summary>The kinds of line in a migration's task log.</summary>
public enum MigrationLogKind
{
    /// <summary>A dirty sync: one pass over the dirty pages ended.</summary>
    Pass,

    /// <summary>Something done to the migration or by it: started, cancel requested, switchover, ended, who did what.</summary>
    Action,
}

/// <summary>The words of a migration's task log, as Proxmox's migration task log says them: one line per pass and per action.</summary>
public static class MigrationTaskLogLines
{
    public static string ToApiName(this MigrationLogKind kind) => kind == MigrationLogKind.Pass ? "pass" : "action";

    public static MigrationLogLineDto Line(DateTimeOffset at, MigrationLogKind kind, string text, MigrationCommand? command = null) =>
        new(at, kind.ToApiName(), text, command?.Hmp ?? [], command?.Qmp ?? []);

    public static MigrationLogLineDto Started(DateTimeOffset at, MigrationDto m)
    {
        if (m.Direction == VmConsole.Migration.Model.MigrationDirection.Incoming.ToApiName())
        {
            return Line(at, MigrationLogKind.Action, $"Started: listening on {m.Uri} for VM {m.Vm} from {m.SourceHost}, to run on {m.DestinationHost}", MigrationCommands.Incoming(m.Uri ?? "", m.Parameters, m.Capabilities));
        }

        var p = m.Parameters;
        var c = m.Capabilities;
        var caps = string.Join(", ", c.EnabledQemuNames());
        var text = $"Started: {m.Vm} from {m.SourceHost} to {m.DestinationHost ?? m.Uri}; max-bandwidth {(p.MaxBandwidth == 0 ? "unlimited" : Display.ByteRate(p.MaxBandwidth))}, "
            + $"downtime-limit {p.DowntimeLimit:N0} ms{(c.AutoConverge ? $", cpu-throttle {p.CpuThrottleInitial} % + {p.CpuThrottleIncrement} % up to {p.MaxCpuThrottle} %" : "")}; "
            + $"capabilities: {(caps.Length == 0 ? "none" : caps)}"
            + (c.Multifd ? $"; multifd-channels {p.MultifdChannels}, multifd-compression {p.MultifdCompression.ToQemuName()}" : "")
            + (c.Xbzrle ? $"; xbzrle-cache-size {Display.Bytes(p.XbzrleCacheSize)}" : "");
        return Line(at, MigrationLogKind.Action, text, MigrationCommands.Start(p, c, m.Uri, m.DestinationHost));
    }

    /// <summary>
    /// Dirty syncs <paramref name="fromSync"/> to <paramref name="toSync"/> happened (sync 1 is the setup's, so sync n
    /// ends pass n - 1); <paramref name="stopped"/> when the guest was already stopped for the switchover (the last sync).
    /// </summary>
    public static MigrationLogLineDto Pass(DateTimeOffset at, long fromSync, long toSync, MigrationStats s, double? livePagesPerSecond, bool stopped = false)
    {
        var syncs = fromSync == toSync ? $"dirty sync {toSync}" : $"dirty syncs {fromSync}–{toSync}";
        var passes = stopped ? $"Last sync, guest stopped ({syncs})"
            : fromSync == toSync ? $"Pass {toSync - 1} done ({syncs})"
            : $"Passes {fromSync - 1}–{toSync - 1} done ({syncs})";
        var dirtyPages = s.PageSize > 0 ? s.Remaining / s.PageSize : 0;
        var rate = livePagesPerSecond is { } live ? $"dirty rate (live) {Display.PageRate(live, s.PageSize)}" : $"dirty rate at sync {Display.PageRate(s.DirtyPagesRate, s.PageSize)}";
        var text = $"{passes}: sent {Display.Bytes(s.Transferred)}, {dirtyPages:N0} dirty pages ({Display.Bytes(s.Remaining)}) to send, "
            + $"{rate}, throttle {s.CpuThrottlePercentage} %, expected downtime {(s.ExpectedDowntime is { } d ? $"{d:N0} ms" : "—")}";
        return Line(at, MigrationLogKind.Pass, text);
    }

    public static MigrationLogLineDto Throttled(DateTimeOffset at, int from, int to) =>
        Line(at, MigrationLogKind.Action, $"auto-converge: CPU throttle {from} % → {to} %");

    /// <summary>The line for a state change, null for one that says nothing a pass line does not (setup).</summary>
    public static MigrationLogLineDto? Status(DateTimeOffset at, MigrationStatus previous, MigrationStatus status, MigrationDto m) => status switch
    {
        MigrationStatus.Active => Line(at, MigrationLogKind.Action, "Active: the first pass sends every page"),
        MigrationStatus.PreSwitchover => Line(at, MigrationLogKind.Action, "Paused before switchover: the guest is stopped, waiting for migrate_continue"),
        MigrationStatus.Device when previous == MigrationStatus.PreSwitchover =>
            Line(at, MigrationLogKind.Action, "Continued: switchover, the device state goes", MigrationCommands.Continue),
        MigrationStatus.Device => Line(at, MigrationLogKind.Action,
            $"Switchover: the guest stopped, the last {Display.Bytes(m.Ram.Remaining)} and the device state go (expected downtime {(m.ExpectedDowntime is { } d ? $"{d:N0} ms" : "—")})"),
        MigrationStatus.PostcopyActive => Line(at, MigrationLogKind.Action, "Switched to postcopy: the destination runs the guest and pulls the pages still missing", MigrationCommands.Postcopy),
        MigrationStatus.Cancelling => Line(at, MigrationLogKind.Action, "Cancel requested", MigrationCommands.Cancel),
        MigrationStatus.Completed => Line(at, MigrationLogKind.Action, Completed(m)),
        MigrationStatus.Cancelled => Line(at, MigrationLogKind.Action, $"Cancelled{(m.ErrorDesc is { } e ? $": {e}" : "")} after {Display.Duration(m.TotalTime)}"),
        MigrationStatus.Failing => Line(at, MigrationLogKind.Action, $"Failing{(m.ErrorDesc is { } e ? $": {e}" : "")}"),
        MigrationStatus.Failed => Line(at, MigrationLogKind.Action, $"Failed{(m.ErrorDesc is { } e ? $": {e}" : "")} after {Display.Duration(m.TotalTime)}"),
        _ => null,
    };

    private static string Completed(MigrationDto m)
    {
        var where = m.DestinationHost is { } host ? $"{m.Vm} now runs on {host}" : $"{m.Vm} now runs at {m.Uri}";
        if (m.Direction == VmConsole.Migration.Model.MigrationDirection.Incoming.ToApiName() || m.Downtime is not { } downtime)
        {
            return $"Completed in {Display.Duration(m.TotalTime)}: {where}";
        }

        var limit = m.Parameters.DowntimeLimit;
        return $"Completed in {Display.Duration(m.TotalTime)}, downtime {downtime:N0} ms{(downtime > limit ? $" exceeded the {limit:N0} ms limit" : $" (limit {limit:N0} ms)")}: {where}";
    }
}
