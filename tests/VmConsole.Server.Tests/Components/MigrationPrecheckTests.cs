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

    [Fact]
    public void Estimate_XbzrleEncodingRateKnown_LaterPassesSendTheDeltasAndItConverges()
    {
        var vm = CreateVm("vm1");
        // 10 MiB/s link, the guest dirtying 9 MiB/s: whole pages never get under 3 MiB in 30 passes; deltas a quarter of that do.
        var blocks = new[] { Block(1 * Sizes.GiB, pagesPerSecond: 9.0 * Sizes.MiB / 4096) };

        var whole = MigrationPrecheck.Estimate(vm, blocks, 10, 300, autoConverge: false)!;
        var encoded = MigrationPrecheck.Estimate(vm, blocks, 10, 300, autoConverge: false, xbzrleEncodingRate: 4)!;

        Assert.True(whole.WillNotConverge);
        Assert.False(encoded.WillNotConverge);
        Assert.Equal("Converges in about 4 passes (dirty rate 9 MiB/s, 2.3 MiB/s on the wire with XBZRLE against 10 MiB/s).", encoded.Text);
        Assert.Equal(whole.FirstPass, encoded.FirstPass);
        Assert.Contains("assumes whole pages", MigrationPrecheck.XbzrleEstimateNote(encodingRate: null), StringComparison.Ordinal);
        Assert.Contains("last XBZRLE migration measured (4 bytes of page per byte sent)", MigrationPrecheck.XbzrleEstimateNote(4), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(64L, null)]
    [InlineData(1L, null)]
    [InlineData(1_048_576L, null)]
    [InlineData(null, "Enter a cache size in MiB.")]
    [InlineData(0L, "Between 1 MiB and 1 TiB (1,048,576 MiB), a power of two.")]
    [InlineData(2_097_152L, "Between 1 MiB and 1 TiB (1,048,576 MiB), a power of two.")]
    [InlineData(48L, "A power of two, such as 32 or 64 MiB.")]
    public void CheckXbzrleCacheMiB_QemusPowerOfTwoRule(long? mib, string? error) =>
        Assert.Equal(error, MigrationPrecheck.CheckXbzrleCacheMiB(mib));

    private static RamBlockRow Block(long usedLength, double pagesPerSecond) =>
        new(1, "pc.ram", null, null, 0, 4096, usedLength, usedLength, Migratable: true, Resizeable: false, Shared: false, ReadOnly: false, GuestAddress: 0, pagesPerSecond);
}
