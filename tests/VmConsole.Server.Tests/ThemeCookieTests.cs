using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc.Testing;
using VmConsole.Server.Components.Layout;

namespace VmConsole.Server.Tests;

/// <summary>The theme cookie the layout writes shapes the page's first HTML, so a reload shows no flash of the other theme.</summary>
public sealed partial class ThemeCookieTests(PageTests.Fixture fixture) : IClassFixture<PageTests.Fixture>
{
    [Theory]
    [InlineData("dark", true)]
    [InlineData("light", false)]
    [InlineData(null, false)]
    public async Task SignInPage_ThemeCookie_PrerendersInTheChosenPalette(string? cookie, bool dark)
    {
        using var client = fixture.Factory.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/login", UriKind.Relative));
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", $"{ThemeChoice.CookieName}={cookie}");
        }

        using var response = await client.SendAsync(request);
        var html = await response.Content.ReadAsStringAsync();

        var primary = PrimaryVariable().Match(html);
        Assert.True(primary.Success, "The page has no theme variables.");
        var palette = dark ? (MudBlazor.Palette)ConsoleTheme.Theme.PaletteDark : ConsoleTheme.Theme.PaletteLight;
        Assert.Equal(palette.Primary.ToString(), primary.Groups["value"].Value.Trim());
    }

    [GeneratedRegex(@"--mud-palette-primary:\s*(?<value>[^;]+);")]
    private static partial Regex PrimaryVariable();
}
