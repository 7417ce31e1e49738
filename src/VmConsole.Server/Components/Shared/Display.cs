using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;

namespace VmConsole.Server.Components.Shared;

/// <summary>How the console writes numbers and states.</summary>
public static class Display
{
    public static string Bytes(long bytes) => Sizes.Format(bytes);

    /// <summary>ram_addr and guest addresses as QEMU's info ramblock prints them.</summary>
    public static string Hex(long value) => $"0x{value:x16}";

    public static string Rate(double perSecond) => perSecond < 10 && perSecond > 0 ? perSecond.ToString("0.#") : perSecond.ToString("N0");

    /// <summary>
    /// Bandwidth, throughput and dirty rate: bytes per second in binary units, the one unit for them all ("7.8 MiB/s");
    /// "-" when not known (NaN or negative).
    /// </summary>
    public static string ByteRate(double bytesPerSecond)
    {
        if (double.IsNaN(bytesPerSecond) || double.IsInfinity(bytesPerSecond) || bytesPerSecond < 0)
        {
            return "-";
        }

        var (unit, name) = bytesPerSecond switch
        {
            >= Sizes.GiB => ((double)Sizes.GiB, "GiB/s"),
            >= Sizes.MiB => ((double)Sizes.MiB, "MiB/s"),
            >= Sizes.KiB => ((double)Sizes.KiB, "KiB/s"),
            _ => (1d, "B/s"),
        };
        var value = bytesPerSecond / unit;
        return value >= 100 || unit == 1 ? $"{value:N0} {name}" : $"{value:0.#} {name}";
    }

    /// <summary>A rate of pages: bytes per second first, pages per second as the second figure ("7.8 MiB/s (2,000 pages/s)").</summary>
    public static string PageRate(double pagesPerSecond, long pageSize = 4096) =>
        double.IsNaN(pagesPerSecond) || pagesPerSecond < 0 ? "-" : $"{ByteRate(pagesPerSecond * pageSize)} ({Rate(pagesPerSecond)} pages/s)";

    /// <summary>A share from 0 to 1 as a percentage ("12.5 %"); "-" when not known (NaN or negative).</summary>
    public static string Percent(double share) =>
        double.IsNaN(share) || double.IsInfinity(share) || share < 0 ? "-" : $"{share * 100:0.#} %";

    /// <summary>A duration as a person reads it: "850 ms", "4.2 s", "57 s", "3 min 5 s", "1 h 3 min", "2 d 4 h"; "-" when not known.</summary>
    public static string Duration(TimeSpan? duration)
    {
        if (duration is not { } d)
        {
            return "-";
        }

        if (d < TimeSpan.Zero)
        {
            d = TimeSpan.Zero;
        }

        return d switch
        {
            { TotalSeconds: < 1 } => $"{(long)d.TotalMilliseconds} ms",
            { TotalSeconds: < 10 } => $"{Math.Floor(d.TotalSeconds * 10) / 10:0.#} s",
            { TotalMinutes: < 1 } => $"{(long)d.TotalSeconds} s",
            { TotalHours: < 1 } => Pair((long)d.TotalMinutes, "min", d.Seconds, "s"),
            { TotalDays: < 1 } => Pair((long)d.TotalHours, "h", d.Minutes, "min"),
            _ => Pair((long)d.TotalDays, "d", d.Hours, "h"),
        };

        static string Pair(long major, string majorUnit, int minor, string minorUnit) =>
            minor == 0 ? $"{major} {majorUnit}" : $"{major} {majorUnit} {minor} {minorUnit}";
    }

    /// <summary>A duration in milliseconds (QEMU's unit for total-time, downtime, setup-time) as a person reads it.</summary>
    public static string Duration(long? milliseconds) => Duration(milliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : null);

    public static Color StateColor(RunState state) => state switch
    {
        RunState.Running => Color.Success,
        RunState.Paused or RunState.FinishMigrate => Color.Warning,
        RunState.InMigrate or RunState.PostMigrate => Color.Info,
        RunState.Shutdown => Color.Default,
        _ => Color.Secondary,
    };

    public static string StateIcon(RunState state) => state switch
    {
        RunState.Running => Icons.Material.Filled.PlayCircle,
        RunState.Paused => Icons.Material.Filled.PauseCircle,
        RunState.InMigrate or RunState.FinishMigrate or RunState.PostMigrate => Icons.Material.Filled.SwapHorizontalCircle,
        RunState.Shutdown => Icons.Material.Filled.PowerSettingsNew,
        _ => Icons.Material.Filled.HourglassEmpty,
    };
}
