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

    private readonly Factory _factory = new();
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public Emulator Emulator => _factory.Services.GetRequiredService<Emulator>();

    public static string ScreenshotDirectory { get; } =
        Environment.GetEnvironmentVariable("VMCONSOLE_SCREENSHOTS") ?? Path.Combine(Factory.RepositoryRoot, "artifacts", "screenshots");

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

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public const string AdminPassword = "E2e-Admin-Password-1";

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

    /// <summary>Opens a page and waits until its live connection is up (the layout says so), so clicks reach the server.</summary>
    public static async Task GotoInteractiveAsync(IPage page, string path)
    {
        await page.GotoAsync(path);
        await Microsoft.Playwright.Assertions.Expect(page.Locator("[data-interactive='true']")).ToHaveCountAsync(1);
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name), FullPage = true });

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _factory.DatabaseFile, _factory.DatabaseFile + "-wal", _factory.DatabaseFile + "-shm" })
        {
            File.Delete(file);
        }
    }

    private sealed class Factory : WebApplicationFactory<Program>
    {
        public static string RepositoryRoot { get; } = FindRepositoryRoot();

        public string DatabaseFile { get; } = Path.Combine(Path.GetTempPath(), $"vmconsole-e2e-{Guid.NewGuid():N}.db");

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseContentRoot(RepositoryRoot);
            builder.UseSetting("ConnectionStrings:VmConsole", $"Data Source={DatabaseFile}");
            builder.UseSetting("Auth:BootstrapAdminPassword", AdminPassword);
            // Every test signs in through the form from the same loopback address: the sign-in limit is Server.Tests' to check.
            builder.UseSetting("RateLimits:SignInBurst", "1000");
        }

        private static string FindRepositoryRoot()
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "VmConsole.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("VmConsole.sln not found above the test's output directory.");
        }
    }
}
