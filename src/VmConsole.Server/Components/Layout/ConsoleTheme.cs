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
        PaletteDark = new PaletteDark
        {
            Primary = "#64a8d8",
            AppbarBackground = "#0f2235",
            Secondary = "#9fa8da",
        },
        Typography = new Typography
        {
            Default = new DefaultTypography { FontFamily = ["Roboto", "DejaVu Sans", "Helvetica", "Arial", "sans-serif"] },
        },
    };
}
