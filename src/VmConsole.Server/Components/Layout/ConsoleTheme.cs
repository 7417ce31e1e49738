using MudBlazor;

namespace VmConsole.Server.Components.Layout;

public static class ConsoleTheme
{
    public static MudTheme Theme { get; } = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#1f5f8b",
            AppbarBackground = "#16324f",
            Secondary = "#5c6bc0",
        },
        // The dark theme's primary and secondary are light colours (readable as text on the dark background), so a
        // filled button's text on them is dark: white on #64a8d8 is 2.6:1, #0d1b2a on it is 6.7:1 (WCAG AA asks 4.5:1).
        PaletteDark = new PaletteDark
        {
            Primary = "#64a8d8",
            PrimaryContrastText = "#0d1b2a",
            AppbarBackground = "#0f2235",
            Secondary = "#9fa8da",
            SecondaryContrastText = "#0d1b2a",
        },
        Typography = new Typography
        {
            Default = new DefaultTypography { FontFamily = ["Roboto", "DejaVu Sans", "Helvetica", "Arial", "sans-serif"] },
        },
    };
}
