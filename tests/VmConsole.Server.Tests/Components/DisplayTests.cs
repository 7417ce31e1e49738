using System.Globalization;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

/// <summary>One unit per quantity: rates in bytes per second (pages per second second), durations as a person reads them.</summary>
public sealed class DisplayTests
{
    [Theory]
    [InlineData(0d, "0 B/s")]
    [InlineData(512d, "512 B/s")]
    [InlineData(8_192_000d, "7.8 MiB/s")]
    [InlineData(157_286_400d, "150 MiB/s")]
    [InlineData(1_610_612_736d, "1.5 GiB/s")]
    [InlineData(double.NaN, "-")]
    [InlineData(-1d, "-")]
    public void ByteRate_OneUnitForEveryRate(double bytesPerSecond, string expected)
    {
        using var culture = new InvariantCulture();
        Assert.Equal(expected, Display.ByteRate(bytesPerSecond));
    }

    [Fact]
    public void PageRate_BytesFirstThenPages()
    {
        using var culture = new InvariantCulture();
        Assert.Equal("7.8 MiB/s (2,000 pages/s)", Display.PageRate(2000));
        Assert.Equal("0 B/s (0 pages/s)", Display.PageRate(0));
    }

    [Theory]
    [InlineData(0L, "0 ms")]
    [InlineData(850L, "850 ms")]
    [InlineData(1_546L, "1.5 s")]
    [InlineData(9_999L, "9.9 s")]
    [InlineData(57_237L, "57 s")]
    [InlineData(185_000L, "3 min 5 s")]
    [InlineData(180_000L, "3 min")]
    [InlineData(3_780_000L, "1 h 3 min")]
    [InlineData(187_200_000L, "2 d 4 h")]
    [InlineData(-5L, "0 ms")]
    public void Duration_AsAPersonReadsIt(long milliseconds, string expected)
    {
        using var culture = new InvariantCulture();
        Assert.Equal(expected, Display.Duration(milliseconds));
    }

    [Fact]
    public void Duration_Unknown_IsADash() => Assert.Equal("-", Display.Duration((long?)null));

    /// <summary>Sets the invariant culture for the test's thread and puts the previous one back.</summary>
    private sealed class InvariantCulture : IDisposable
    {
        private readonly CultureInfo _previous = CultureInfo.CurrentCulture;

        public InvariantCulture() => CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

        public void Dispose() => CultureInfo.CurrentCulture = _previous;
    }
}
