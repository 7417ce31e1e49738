using AngleSharp.Dom;
using Bunit;
using VmConsole.Emulation;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

/// <summary>The migration charts: time from 0, Y in one unit with a few round ticks, values with their unit on hover.</summary>
public sealed class MigrationChartsTests : ConsoleComponentContext
{
    [Fact]
    public void MigrationCharts_TwentySeconds_YInOneUnitWithAFewRoundTicksAndTimeFromZero()
    {
        var cut = Render<MigrationCharts>(p => p.Add(c => c.Points, Points()).Add(c => c.BandwidthBytesPerSecond, 128.0 * Sizes.MiB));

        var progress = cut.Find("[data-testid='migration-chart-progress']");
        Assert.Equal(["0 MiB", "250 MiB", "500 MiB", "750 MiB", "1,000 MiB"], Texts(progress, ".mud-charts-yaxis text"));
        Assert.Equal(["0 s", "5 s", "10 s", "15 s", "20 s"], Texts(progress, ".mud-charts-xaxis text").Where(t => t.Length > 0));

        var rates = cut.Find("[data-testid='migration-chart-rates']");
        Assert.Equal(["0 MiB/s", "50 MiB/s", "100 MiB/s", "150 MiB/s"], Texts(rates, ".mud-charts-yaxis text"));
        Assert.Contains("Dirty rate (live)", rates.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void MigrationCharts_SmallValues_ScaleDownToTheirUnit()
    {
        var points = Points().Select(p => p with { RemainingBytes = p.RemainingBytes / 1024, TransferredBytes = p.TransferredBytes / 1024 }).ToList();
        var cut = Render<MigrationCharts>(p => p.Add(c => c.Points, points));

        Assert.Equal("1,000 KiB", Texts(cut.Find("[data-testid='migration-chart-progress']"), ".mud-charts-yaxis text").Last());
    }

    [Fact]
    public async Task MigrationCharts_HoverAPoint_ShowsItsValueWithItsUnit()
    {
        var cut = Render<MigrationCharts>(p => p.Add(c => c.Points, Points()));

        var point = cut.Find("[data-testid='migration-chart-progress'] .mud-chart-point");
        await cut.InvokeAsync(() => point.MouseOver());

        cut.WaitForAssertion(() => Assert.Contains("Remaining: 1,000 MiB", cut.Find("[data-testid='migration-chart-progress']").TextContent, StringComparison.Ordinal));
    }

    [Fact]
    public void MigrationPoint_BeforeTheMigrationKnowsItsRam_IsNotCharted()
    {
        // QEMU in setup: nothing sent, nothing remaining yet; charted, remaining would rise from 0.
        Assert.False(new MigrationPoint(0.2, 0, 0, 0, 0).Known);
        Assert.True(new MigrationPoint(1, 128.0 * Sizes.MiB, 0, 0, 0).Known);
        // Completed: nothing remaining, everything sent.
        Assert.True(new MigrationPoint(30, 0, 128.0 * Sizes.MiB, 0, 0).Known);
    }

    private static List<string> Texts(IElement chart, string selector) => [.. chart.QuerySelectorAll(selector).Select(t => t.TextContent.Trim())];

    /// <summary>20 s of a 1,000 MiB migration at 50 MiB/s, the guest dirtying 8 MiB/s.</summary>
    private static List<MigrationPoint> Points() =>
        [.. Enumerable.Range(0, 41).Select(i => new MigrationPoint(i / 2.0, (1000 - i * 25) * (double)Sizes.MiB, i * 25 * (double)Sizes.MiB, 8.0 * Sizes.MiB, 50.0 * Sizes.MiB))];
}
