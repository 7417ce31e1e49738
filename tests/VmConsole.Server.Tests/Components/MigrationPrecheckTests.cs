using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

/// <summary>The migrate dialog's estimate, from the numbers alone.</summary>
public sealed class MigrationPrecheckTests : ConsoleComponentContext
{
    [Theory]
    [InlineData(-5L, 300L)]
    [InlineData(null, 300L)]
    [InlineData(2_000_000L, 300L)]
    [InlineData(128L, 0L)]
    [InlineData(128L, null)]
    public void Estimate_InvalidBandwidthOrDowntime_IsNone(long? bandwidthMiB, long? downtimeMs)
    {
        var vm = CreateVm("vm1");

        Assert.Null(MigrationPrecheck.Estimate(vm, [Block(64 * Sizes.MiB, pagesPerSecond: 0)], bandwidthMiB, downtimeMs, autoConverge: false));
    }

    [Fact]
    public void Estimate_DirtyRateJustBelowTheLink_SaysTheExpectedDowntimeStaysAboveTheLimit()
    {
        var vm = CreateVm("vm1");
        // 1 MiB/s link, the guest dirtying 0.99 MiB/s: each pass leaves 99% of the one before, far above 1 ms x 1 MiB/s.
        var blocks = new[] { Block(1 * Sizes.GiB, pagesPerSecond: 0.99 * Sizes.MiB / 4096) };

        var estimate = MigrationPrecheck.Estimate(vm, blocks, 1, 1, autoConverge: false)!;

        Assert.True(estimate.WillNotConverge);
        Assert.StartsWith("Will not converge within the downtime limit: after 30 passes the expected downtime is still", estimate.Text, StringComparison.Ordinal);
        Assert.Contains("above the 1 ms limit", estimate.Text, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(1024), estimate.FirstPass);
        Assert.Equal("The first pass sends 1 GiB in about 17 min 4 s.", estimate.FirstPassText);
    }

    [Fact]
    public void Estimate_SlowGuest_ConvergesAndWarnsOfNothing()
    {
        var vm = CreateVm("vm1");

        var estimate = MigrationPrecheck.Estimate(vm, [Block(64 * Sizes.MiB, pagesPerSecond: 256)], 128, 300, autoConverge: false)!;

        Assert.False(estimate.WillNotConverge);
        Assert.StartsWith("Converges in about 1 pass", estimate.Text, StringComparison.Ordinal);
    }

    private static RamBlockRow Block(long usedLength, double pagesPerSecond) =>
        new(1, "pc.ram", null, null, 0, 4096, usedLength, usedLength, Migratable: true, Resizeable: false, Shared: false, ReadOnly: false, GuestAddress: 0, pagesPerSecond);
}
