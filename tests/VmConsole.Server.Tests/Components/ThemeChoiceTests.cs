using System.Text.RegularExpressions;
using Bunit;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using VmConsole.Server.Components.Layout;

namespace VmConsole.Server.Tests.Components;

/// <summary>The theme the operator chose is remembered and comes back with the next page, before the first paint.</summary>
public sealed class ThemeChoiceTests : ConsoleComponentContext
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MainLayout_RememberedChoice_RendersInItFromTheFirstRender(bool dark)
    {
        // The browser prefers the other theme: the operator's choice wins.
        JSInterop.Setup<bool>(_ => true).SetResult(!dark);

        var layout = RenderLayout(new ThemeChoice(dark));

        Assert.Equal(dark, IsDark(layout));
    }

    [Fact]
    public void MainLayout_NoChoice_FollowsTheBrowsersPreference()
    {
        JSInterop.Setup<bool>(_ => true).SetResult(true);

        var layout = RenderLayout(new ThemeChoice(null));

        layout.WaitForAssertion(() => Assert.True(IsDark(layout)));
    }

    [Fact]
    public void MainLayout_ThemeSwitched_RemembersEachChoice()
    {
        var layout = RenderLayout(new ThemeChoice(false));

        layout.Find("[data-testid='theme-toggle']").Click();
        layout.WaitForAssertion(() => Assert.True(IsDark(layout)));
        layout.Find("[data-testid='theme-toggle']").Click();

        layout.WaitForAssertion(() => Assert.False(IsDark(layout)));
        Assert.Equal(["dark", "light"], JSInterop.Invocations.Where(i => i.Identifier == "vmcTheme.remember").Select(i => (string?)i.Arguments[0]));
    }

    [Theory]
    [InlineData("dark", true)]
    [InlineData("light", false)]
    [InlineData(null, null)]
    [InlineData("purple", null)]
    public void ThemeChoice_FromCookie_DarkLightOrNoChoice(string? cookie, bool? dark)
    {
        Assert.Equal(dark, ThemeChoice.FromCookie(cookie).Dark);
    }

    /// <summary>Whether the page's theme variables are the dark palette's (what the browser paints with).</summary>
    private static bool IsDark(IRenderedComponent<CascadingValue<ThemeChoice>> layout)
    {
        var primary = Regex.Match(layout.Markup, @"--mud-palette-primary:\s*(?<value>[^;]+);").Groups["value"].Value.Trim();
        Assert.Contains(primary, new[] { ConsoleTheme.Theme.PaletteDark.Primary.ToString(), ConsoleTheme.Theme.PaletteLight.Primary.ToString() });
        return primary == ConsoleTheme.Theme.PaletteDark.Primary.ToString();
    }

    private IRenderedComponent<CascadingValue<ThemeChoice>> RenderLayout(ThemeChoice choice) =>
        Render<CascadingValue<ThemeChoice>>(p => p
            .Add(c => c.Value, choice)
            .Add(c => c.IsFixed, true)
            .AddChildContent<MainLayout>(l => l.Add(m => m.Body, (RenderFragment)(b => b.AddContent(0, "a page")))));
}
