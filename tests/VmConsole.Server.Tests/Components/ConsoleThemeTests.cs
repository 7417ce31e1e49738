using MudBlazor;
using MudBlazor.Utilities;
using VmConsole.Server.Components.Layout;

namespace VmConsole.Server.Tests.Components;

/// <summary>The console's colours read at WCAG AA (4.5:1 for text) in both themes.</summary>
public sealed class ConsoleThemeTests
{
    private const double AaText = 4.5;

    private static Palette PaletteOf(bool dark) => dark ? ConsoleTheme.Theme.PaletteDark : ConsoleTheme.Theme.PaletteLight;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FilledPrimaryButton_EitherTheme_TextContrastAtLeastAa(bool dark)
    {
        var palette = PaletteOf(dark);

        Assert.InRange(Contrast(palette.PrimaryContrastText, palette.Primary), AaText, 21);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FilledSecondaryButton_EitherTheme_TextContrastAtLeastAa(bool dark)
    {
        var palette = PaletteOf(dark);

        Assert.InRange(Contrast(palette.SecondaryContrastText, palette.Secondary), AaText, 21);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TextPrimaryButton_EitherTheme_ContrastOnPageAndDialogAtLeastAa(bool dark)
    {
        var palette = PaletteOf(dark);

        Assert.InRange(Contrast(palette.Primary, palette.Background), AaText, 21);
        Assert.InRange(Contrast(palette.Primary, palette.Surface), AaText, 21);
    }

    [Fact]
    public void Contrast_BlackOnWhiteAndWhiteOnDefaultDarkBlue_AsWcagComputes()
    {
        Assert.Equal(21, Contrast(new MudColor("#000000"), new MudColor("#ffffff")), 2);
        // The dark theme's primary with MudBlazor's default white text: the failure this class guards against.
        Assert.Equal(2.58, Contrast(new MudColor("#ffffff"), new MudColor("#64a8d8")), 2);
    }

    /// <summary>WCAG 2 contrast ratio of a (possibly translucent) foreground over an opaque background.</summary>
    private static double Contrast(MudColor foreground, MudColor background)
    {
        var alpha = foreground.A / 255.0;
        double Blend(byte fore, byte back) => fore * alpha + back * (1 - alpha);
        var front = Luminance(Blend(foreground.R, background.R), Blend(foreground.G, background.G), Blend(foreground.B, background.B));
        var back = Luminance(background.R, background.G, background.B);
        return (Math.Max(front, back) + 0.05) / (Math.Min(front, back) + 0.05);
    }

    private static double Luminance(double red, double green, double blue)
    {
        static double Linear(double channel)
        {
            var c = channel / 255;
            return c <= 0.04045 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);
        }

        return 0.2126 * Linear(red) + 0.7152 * Linear(green) + 0.0722 * Linear(blue);
    }
}
