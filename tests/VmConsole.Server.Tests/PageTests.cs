using System.Net;
using System.Text.RegularExpressions;

namespace VmConsole.Server.Tests;

/// <summary>The pages answer in their first HTML response (prerendering), readable without a browser.</summary>
public sealed partial class PageTests : IClassFixture<PageTests.Fixture>
{
    private readonly Fixture _fixture;

    public PageTests(Fixture fixture) => _fixture = fixture;

    private HttpClient _client => _fixture.Client;

    [Fact]
    public async Task VmPage_Db1_PrerendersExactlyItsRamBlocks()
    {
        var html = await _client.GetStringAsync(new Uri("/vms/db-1", UriKind.Relative));

        var rows = RowPattern().Matches(html)
            .Select(m => (Name: m.Groups["idstr"].Value.Length > 0 ? m.Groups["idstr"].Value : m.Groups["backend"].Value,
                          Used: long.Parse(m.Groups["used"].Value, System.Globalization.CultureInfo.InvariantCulture),
                          Max: long.Parse(m.Groups["max"].Value, System.Globalization.CultureInfo.InvariantCulture),
                          Migratable: m.Groups["flags"].Value.Contains(">migratable<", StringComparison.Ordinal)))
            .OrderBy(r => r.Name, StringComparer.Ordinal)
            .ToList();
        (string, long, long, bool)[] expected =
        [
            ("/rom@etc/acpi/rsdp", 4 << 10, 4 << 10, true),
            ("/rom@etc/acpi/tables", 128 << 10, 2 << 20, true),
            ("/rom@etc/table-loader", 4 << 10, 64 << 10, true),
            ("dimm0", 256 << 20, 256 << 20, true),
            ("pc.bios", 256 << 10, 256 << 10, true),
            ("pc.ram", 1 << 30, 1 << 30, true),
            ("pc.rom", 128 << 10, 128 << 10, true),
            ("spare0", 64 << 20, 64 << 20, false),
        ];
        Assert.Equal(expected, rows);
    }

    [Fact]
    public async Task VmPage_Db1_ShowsOffsetsInHexAndTheDimm()
    {
        var html = await _client.GetStringAsync(new Uri("/vms/db-1", UriKind.Relative));

        Assert.Contains("0x0000000000000000", html, StringComparison.Ordinal);
        Assert.Contains("dimm0-dev", html, StringComparison.Ordinal);
        Assert.Contains("pc-dimm", html, StringComparison.Ordinal);
        Assert.Contains("unplugged backend", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VmPage_UnknownVm_Is404()
    {
        var response = await _client.GetAsync(new Uri("/vms/no-such-vm", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("nothing at this address", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Overview_ListsHostsWithMemoryAndVmsWithState()
    {
        var html = await _client.GetStringAsync(new Uri("/", UriKind.Relative));

        Assert.Contains("data-host=\"host-a\"", html, StringComparison.Ordinal);
        Assert.Contains("data-host=\"host-b\"", html, StringComparison.Ordinal);
        Assert.Contains("of 32 GiB", html, StringComparison.Ordinal);
        foreach (var vm in new[] { "web-1", "db-1", "tiny-1" })
        {
            Assert.Contains($"href=\"vms/{vm}\"", html, StringComparison.Ordinal);
        }

        Assert.Contains("data-state=\"running\"", html, StringComparison.Ordinal);
    }

    [GeneratedRegex("""data-idstr="(?<idstr>[^"]*)"(?: data-backend="(?<backend>[^"]*)")?.*?data-used="(?<used>\d+)".*?data-max="(?<max>\d+)"(?<flags>.*?)data-dirty-rate""", RegexOptions.Singleline)]
    private static partial Regex RowPattern();

    [Fact]
    public async Task VmPage_NotSignedIn_RedirectsToSignInWithTheWayBack()
    {
        using var anonymous = _fixture.Factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        var response = await anonymous.GetAsync(new Uri("/vms/db-1", UriKind.Relative));
        var signIn = await anonymous.GetStringAsync(new Uri("/login", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/login?returnurl=", response.Headers.Location?.PathAndQuery, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("%2Fvms%2Fdb-1", response.Headers.Location?.Query, StringComparison.Ordinal);
        Assert.Contains("name=\"userName\"", signIn, StringComparison.Ordinal);
        Assert.DoesNotContain("pc.ram", signIn, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Favicon_BrowsersDefaultRequest_IsAnIconForAnyone()
    {
        using var anonymous = _fixture.Factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        var response = await anonymous.GetAsync(new Uri("/favicon.ico", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("image/", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        Assert.Equal(new byte[] { 0, 0, 1, 0 }, (await response.Content.ReadAsByteArrayAsync())[..4]);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/login")]
    public async Task Page_Head_LinksAnIconThatIsServed(string page)
    {
        using var anonymous = _fixture.Factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var client = page == "/login" ? anonymous : _client;

        var html = await client.GetStringAsync(new Uri(page, UriKind.Relative));
        var head = html[..html.IndexOf("</head>", StringComparison.Ordinal)];
        var icons = IconLinkPattern().Matches(head).Select(m => m.Groups["href"].Value).ToList();

        Assert.NotEmpty(icons);
        foreach (var href in icons)
        {
            var icon = await anonymous.GetAsync(new Uri(href, UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, icon.StatusCode);
            Assert.StartsWith("image/", icon.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex("""<link rel="icon"[^>]*href="(?<href>[^"]+)""")]
    private static partial Regex IconLinkPattern();

    public sealed class Fixture : IAsyncLifetime
    {
        public ConsoleFactory Factory { get; } = new();

        public HttpClient Client { get; private set; } = null!;

        public async Task InitializeAsync() => Client = await Factory.CreateSignedInClientAsync(VmConsole.Server.Accounts.Roles.Viewer);

        public Task DisposeAsync() => Factory.DisposeAsync().AsTask();
    }
}
