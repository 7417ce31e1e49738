using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using VmConsole.Emulation;

namespace VmConsole.EndToEnd.Tests;

/// <summary>
/// The console on a real Kestrel port on loopback, and Debian's Chromium driven by Playwright
/// (never a downloaded browser). Screenshots go to artifacts/screenshots/ at the repository's top level.
/// </summary>
public sealed class ConsoleInBrowser : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    // Every test signs in through the form from the same loopback address: the sign-in limit is Server.Tests' to check.
    private readonly ConsoleFactory _factory = new(settings: new Dictionary<string, string?> { ["RateLimits:SignInBurst"] = "1000" });
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public Emulator Emulator => _factory.Emulator;

    public static string ScreenshotDirectory { get; } =
        Environment.GetEnvironmentVariable("VMCONSOLE_SCREENSHOTS") ?? Path.Combine(RepositoryRoot.Path, "artifacts", "screenshots");

    public async Task InitializeAsync()
    {
        _factory.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        _factory.StartServer();
        var addresses = _factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
        BaseAddress = new Uri(addresses.Addresses.First());

        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: the test command installs Debian's chromium package.");
        }

        // Expect waits as long as actions do: with every core busy a dialog once took over the default 5 s to open.
        Microsoft.Playwright.Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public const string AdminPassword = ConsoleFactory.AdminPassword;

    /// <summary>A page signed in as the admin through the sign-in form, as a person would.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var page = await NewAnonymousPageAsync();
        await page.GotoAsync("/login");
        await page.Locator("input[name='userName']").FillAsync("admin");
        await page.Locator("input[name='password']").FillAsync(AdminPassword);
        await page.Locator("[data-testid='signin-form'] button[type='submit']").ClickAsync();
        await Microsoft.Playwright.Assertions.Expect(page.Locator("[data-testid='signed-in-user']")).ToContainTextAsync("admin");
        return page;
    }

    public async Task<IPage> NewAnonymousPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1440, Height = 1000 },
        });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    /// <summary>
    /// Waits until the dialog's autofocus has put the caret in one of its fields (a text field's input, a select's slot,
    /// both MudBlazor's <c>mud-input-slot</c>). A late autofocus (a busy server sends it
    /// after the test has moved on) would take the keys meant for another field: seen in CI, "128" typed for a size
    /// landed in the backend id ("mem1128").
    /// </summary>
    public static async Task AutoFocusedAsync(IPage page, string dialogTestId) =>
        await page.WaitForFunctionAsync(
            "id => { const d = document.querySelector(`[data-testid='${id}']`); const a = document.activeElement; return !!d && !!a && a.classList.contains('mud-input-slot') && d.contains(a); }",
            dialogTestId,
            new() { Timeout = 15_000 });

    /// <summary>Opens a page and waits until its live connection is up (the layout says so), so clicks reach the server.</summary>
    public static async Task GotoInteractiveAsync(IPage page, string path)
    {
        await page.GotoAsync(path);
        await Microsoft.Playwright.Assertions.Expect(page.Locator("[data-interactive='true']")).ToHaveCountAsync(1);
    }

    /// <remarks>
    /// A screenshot is a by-product for whoever looks at the run, not something under test: it gets 2 minutes, as a busy
    /// CI machine took more than Playwright's 15 s default to paint the 10,000-block VM page whole.
    /// </remarks>
    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name), FullPage = true, Timeout = 120_000 });

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await _factory.DisposeAsync();
    }
}
