using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;
using VmConsole.Server.Api;

namespace VmConsole.Server.Components.Shared;

/// <summary>How the console shows migrations.</summary>
public static class MigrationDisplay
{
    public static Color StatusColor(MigrationStatus status) => status switch
    {
        MigrationStatus.Completed => Color.Success,
        MigrationStatus.Failed or MigrationStatus.Failing => Color.Error,
        MigrationStatus.Cancelled or MigrationStatus.Cancelling => Color.Warning,
        MigrationStatus.PreSwitchover => Color.Secondary,
        _ => Color.Info,
    };

    /// <summary>Cancelling and failing are still running: the worker has not quit yet.</summary>
    public static string Label(MigrationStatus status) => status switch
    {
        MigrationStatus.Cancelling => "Cancelling...",
        MigrationStatus.Failing => "Failing...",
        _ => status.ToQemuName(),
    };

    /// <summary>
    /// A migration's result in a list: its error, or how its destination's memory was checked: "verified" (the console
    /// compared it byte for byte), "verification failed", or "loaded by QEMU" (a QEMU destination on a host of the
    /// console, which checked the stream itself); empty while it runs, and for a file or a peer outside the console.
    /// </summary>
    public static string Result(MigrationDto migration)
    {
        ArgumentNullException.ThrowIfNull(migration);
        return migration.ErrorDesc ?? (migration.Verified, migration.Status, migration.Direction, migration.DestinationHost) switch
        {
            (true, _, _, _) => "verified",
            (false, _, _, _) => "verification failed",
            (null, "completed", "outgoing", not null) => "loaded by QEMU",
            _ => "",
        };
    }

    /// <summary>
    /// How the pages travel, as the migration was set: "multifd, 4 channels, zstd (level 1)", "XBZRLE, 64 MiB cache",
    /// "postcopy-ram"; empty for plain precopy.
    /// </summary>
    public static string Transfer(MigrationDto migration)
    {
        ArgumentNullException.ThrowIfNull(migration);
        var p = migration.Parameters;
        var c = migration.Capabilities;
        var parts = new List<string>();
        if (c.Multifd)
        {
            var level = p.MultifdCompression switch
            {
                MultifdCompression.Zlib => $" (level {p.MultifdZlibLevel})",
                MultifdCompression.Zstd => $" (level {p.MultifdZstdLevel})",
                _ => "",
            };
            parts.Add($"multifd, {p.MultifdChannels} channel{(p.MultifdChannels == 1 ? "" : "s")}, compression {p.MultifdCompression.ToQemuName()}{level}");
        }

        if (c.Xbzrle)
        {
            parts.Add($"XBZRLE, {Display.Bytes(p.XbzrleCacheSize)} cache");
        }

        if (c.PostcopyRam)
        {
            parts.Add("postcopy-ram");
        }

        return string.Join(" · ", parts);
    }
}
