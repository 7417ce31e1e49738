using System.Globalization;
using MudBlazor;
using VmConsole.Emulation;

namespace VmConsole.Server.Components.Shared;

/// <summary>
/// How the migration charts read: one binary unit per chart chosen from its largest value, a round tick step giving a
/// few ticks, values with their unit on hover, and time from 0 on an evenly spaced grid (a line chart's X is by index).
/// </summary>
public sealed record ChartScale(double Unit, string UnitName, double Step)
{
    /// <summary>Points of the evenly spaced time grid the charts draw.</summary>
    public const int GridPoints = 61;

    /// <summary>The unit and tick step for values up to <paramref name="max"/> bytes (per second when <paramref name="perSecond"/>).</summary>
    public static ChartScale ForBytes(double max, bool perSecond)
    {
        var suffix = perSecond ? "/s" : "";
        // At least 4 of the unit at the top, so that the ticks (whole steps of at least 1) are a few, not one.
        var (unit, name) = max switch
        {
            >= 4.0 * Sizes.GiB => ((double)Sizes.GiB, "GiB"),
            >= 4.0 * Sizes.MiB => ((double)Sizes.MiB, "MiB"),
            >= 4.0 * Sizes.KiB => ((double)Sizes.KiB, "KiB"),
            _ => (1d, "B"),
        };
        return new ChartScale(unit, name + suffix, NiceStep(Math.Max(max, unit) / unit / 4));
    }

    /// <summary>1, 2, 2.5, 5, 10, 20, 25, 50... the smallest at least <paramref name="rough"/> (never below 1: the chart takes whole steps).</summary>
    public static double NiceStep(double rough)
    {
        if (!(rough > 1))
        {
            return 1;
        }

        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        foreach (var factor in new[] { 1d, 2, 2.5, 5, 10 })
        {
            if (factor * magnitude >= rough)
            {
                return factor * magnitude;
            }
        }

        return 10 * magnitude;
    }

    public string Format(double value) => string.Create(CultureInfo.CurrentCulture, $"{value:#,0.#} {UnitName}");

    public LineChartOptions Options() => new()
    {
        YAxisTicks = (int)Math.Min(int.MaxValue, Step),
        MaxNumYAxisTicks = 6,
        YAxisRequireZeroPoint = true,
        YAxisToStringFunc = Format,
        YAxisLines = true,
        ShowToolTips = true,
        TooltipTitleFormat = "{{SERIES_NAME}}: {{Y_VALUE}}",
        LineStrokeWidth = 2,
    };

    public ChartSeries<double> Series(string name, IEnumerable<double> bytes) => new()
    {
        Name = name,
        Data = bytes.Select(b => b / Unit).ToArray(),
        TooltipYValueFormat = $"#,0.## '{UnitName}'",
    };

    /// <summary>The points at <see cref="GridPoints"/> evenly spaced times from 0 to the last, each the last point at or before its time.</summary>
    public static IReadOnlyList<MigrationPoint> Resample(IReadOnlyList<MigrationPoint> points)
    {
        if (points.Count == 0)
        {
            return [new MigrationPoint(0, 0, 0, 0, 0)];
        }

        var end = Math.Max(points[^1].Seconds, 1);
        var grid = new MigrationPoint[GridPoints];
        var at = 0;
        for (var i = 0; i < GridPoints; i++)
        {
            var seconds = end * i / (GridPoints - 1);
            while (at + 1 < points.Count && points[at + 1].Seconds <= seconds)
            {
                at++;
            }

            grid[i] = points[at] with { Seconds = seconds };
        }

        return grid;
    }

    /// <summary>A label where the grid passes a round time ("0 s", "10 s", "1 min"), empty elsewhere: six or so along the axis.</summary>
    public static string[] TimeLabels(IReadOnlyList<MigrationPoint> grid)
    {
        var end = grid[^1].Seconds;
        var step = new[] { 1d, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200 }.FirstOrDefault(s => end / s <= 6, 3600 * Math.Ceiling(end / 3600 / 6));
        var labels = new string[grid.Count];
        var next = 0d;
        for (var i = 0; i < grid.Count; i++)
        {
            if (grid[i].Seconds + 1e-9 >= next)
            {
                labels[i] = next == 0 ? "0 s" : Display.Duration(TimeSpan.FromSeconds(next));
                next += step;
            }
            else
            {
                labels[i] = "";
            }
        }

        return labels;
    }
}
