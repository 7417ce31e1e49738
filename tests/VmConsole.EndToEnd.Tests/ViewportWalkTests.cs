using System.Text.RegularExpressions;
using Microsoft.Playwright;
using VmConsole.Emulation.Workloads;
using static Microsoft.Playwright.Assertions;

namespace VmConsole.EndToEnd.Tests;

/// <summary>
/// Every page on a laptop (1440x900) and on a small screen (1024x768): no error in the browser's console, and every
/// action control (button, icon button, switch, link styled as a button) in view, none past the right edge of the
/// window or cut off by a scrolling or clipping box around it. Screenshots of each go to /tmp/shots-screens/ (or
/// VMCONSOLE_VIEWPORT_SHOTS) to look at.
/// </summary>
public sealed class ViewportWalkTests(ConsoleInBrowser console) : IClassFixture<ConsoleInBrowser>
{
    private static readonly string ShotDirectory = Environment.GetEnvironmentVariable("VMCONSOLE_VIEWPORT_SHOTS") ?? "/tmp/shots-screens";

    /// <summary>
    /// The action controls of the page (app bar and main content) that are not wholly in view horizontally, each as
    /// "what (why)". A control counts when it is rendered (has a box); one inside a box that hides or scrolls its
    /// overflow must lie within that box.
    /// </summary>
    private const string ControlsOutOfViewScript = """
        () => {
          const controls = document.querySelectorAll(
            '.mud-appbar button, .mud-main-content button, .mud-main-content .mud-switch, .mud-main-content a.mud-button-root, .mud-main-content [role=button]');
          const out = [];
          const name = el => (el.getAttribute('data-testid') || el.getAttribute('data-action') || el.getAttribute('aria-label')
            || el.textContent.trim().slice(0, 40) || el.className.toString().slice(0, 60));
          for (const el of controls) {
            const box = el.getBoundingClientRect();
            if (box.width === 0 || box.height === 0 || el.closest('.mud-popover')) continue;
            if (box.right > window.innerWidth + 0.5 || box.left < -0.5) {
              out.push(`${name(el)} (from x=${Math.round(box.left)} to ${Math.round(box.right)}, window ${window.innerWidth} wide)`);
              continue;
            }
            for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
              const overflow = getComputedStyle(up).overflowX;
              if (overflow === 'visible') continue;
              const frame = up.getBoundingClientRect();
              if (box.right > frame.right + 1 || box.left < frame.left - 1) {
                out.push(`${name(el)} (cut off by a box with overflow ${overflow}: control x=${Math.round(box.left)}..${Math.round(box.right)}, box ${Math.round(frame.left)}..${Math.round(frame.right)})`);
                break;
              }
            }
          }
          return out;
        }
        """;

    [Theory]
    [InlineData(1440, 900)]
    [InlineData(1024, 768)]
    public async Task EveryPage_AtWindowSize_NoConsoleErrorAndEveryActionInView(int width, int height)
    {
        Directory.CreateDirectory(ShotDirectory);
        var problems = new List<string>();

        // The sign-in page, as a person arriving meets it.
        var anonymous = await console.NewAnonymousPageAsync();
        await anonymous.SetViewportSizeAsync(width, height);
        var signInErrors = WatchConsole(anonymous);
        await anonymous.GotoAsync("/login");
        await Expect(anonymous.Locator("[data-testid='signin-form']")).ToBeVisibleAsync();
        await CheckAsync(anonymous, "login", width, signInErrors, problems);
        await anonymous.Context.CloseAsync();

        var page = await console.NewPageAsync();
        await page.SetViewportSizeAsync(width, height);
        var errors = WatchConsole(page);

        // A migration that runs while the pages are walked: db-1 dirties eight times what 1 MiB/s carries, so it
        // does not converge on its own; it is cancelled at the end.
        console.Emulator.GetVm("db-1").SetWorkload(new WorkloadSpec(WorkloadKind.Uniform, PagesPerSecond: 2_000));
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms/db-1");
        await page.Locator("[data-testid='migrate-button']").ClickAsync();
        var dialog = page.Locator("[data-testid='migrate-dialog']");
        await Expect(dialog).ToBeVisibleAsync();
        await ConsoleInBrowser.AutoFocusedAsync(page, "migrate-dialog");
        await dialog.GetByLabel("Max bandwidth (MiB/s, 0 = unlimited)").FillAsync("1");
        // It will not converge, so the dialog warns and starts only once told to go ahead anyway.
        await Expect(dialog.Locator("[data-testid='convergence-warning']")).ToBeVisibleAsync();
        await dialog.GetByText("Start anyway, it may not converge").ClickAsync();
        await Shoot(page, width, "migrate-dialog");
        problems.AddRange((await page.EvaluateAsync<string[]>(ControlsOutOfViewScript.Replace(".mud-main-content", ".mud-dialog", StringComparison.Ordinal)))
            .Select(p => $"migrate dialog: {p}"));
        await page.Locator("[data-testid='migrate-start']").ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/migrations/mig-[0-9a-f]+$"));
        var migration = new Uri(page.Url).AbsolutePath;
        await Expect(page.Locator("[data-testid='migration-status']")).ToHaveAttributeAsync("data-status", "active");

        foreach (var (path, name) in new[]
                 {
                     ("/", "overview"), ("/vms", "vms"), ("/vms/db-1", "vm-db-1"), ("/vms/tiny-1", "vm-tiny-1"), ("/migrations", "migrations"),
                     (migration, "migration"), ("/audit", "audit"), ("/users", "users"),
                 })
        {
            await ConsoleInBrowser.GotoInteractiveAsync(page, path);
            await CheckAsync(page, name, width, errors, problems);
        }

        // Below 1280 px the navigation is folded away and the menu button brings it over the page.
        var navigation = page.Locator("[data-testid='nav-vms']");
        if (width < 1280)
        {
            await Expect(navigation).Not.ToBeInViewportAsync();
            await page.GetByLabel("Toggle navigation").ClickAsync();
            await Expect(navigation).ToBeInViewportAsync();
            await Shoot(page, width, "navigation-open");
            await navigation.ClickAsync();
            await Expect(page).ToHaveURLAsync(new Regex("/vms$"));
            await Expect(navigation).Not.ToBeInViewportAsync();
        }
        else
        {
            await Expect(navigation).ToBeInViewportAsync();
        }

        await ConsoleInBrowser.GotoInteractiveAsync(page, migration);
        await page.Locator("[data-testid='migration-cancel']").ClickAsync();
        await Expect(page.Locator("[data-testid='migration-status']")).ToHaveAttributeAsync("data-status", "cancelled");
        await page.Context.CloseAsync();

        Assert.True(problems.Count == 0, $"At {width}x{height}:\n" + string.Join("\n", problems));
    }

    [Fact]
    public async Task Dialog_InTheBrowser_OpensWithFocusInItsFirstFieldAndEscapeClosesIt()
    {
        var page = await console.NewPageAsync();
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms");

        await page.Locator("[data-testid='create-vm']").ClickAsync();
        var dialog = page.Locator("[data-testid='create-vm-dialog']");
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(dialog.Locator("[data-testid='vm-name']")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync("typed-1");
        await Expect(dialog.Locator("[data-testid='vm-name']")).ToHaveValueAsync("typed-1");

        await page.Keyboard.PressAsync("Escape");

        await Expect(dialog).ToHaveCountAsync(0);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task FocusRing_KeyboardOnAButtonAndASwitch_Shows()
    {
        var page = await console.NewPageAsync();
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms/web-1");

        // Tab through the page as a keyboard user would, until the focus reaches a button.
        var button = await TabToAsync(page, "el => el.matches('.mud-main-content button.mud-button-root')");
        Assert.True(button is ["solid", "2px"], $"A focused button's outline is {string.Join(" ", button ?? ["never reached"])}");
        // The switches are in the Migrate dialog.
        await page.Locator("[data-testid='migrate-button']").ClickAsync();
        await Expect(page.Locator("[data-testid='migrate-dialog']")).ToBeVisibleAsync();
        var toggle = await TabToAsync(page, "el => el.matches('.mud-switch-input')");
        Assert.True(toggle is ["solid", "2px"], $"A focused switch's outline is {string.Join(" ", toggle ?? ["never reached"])}");
        await Shoot(page, 1440, "focus-ring");
        await page.Context.CloseAsync();
    }

    /// <summary>Presses Tab until the focused element matches; then the outline style and width of what shows it.</summary>
    private static async Task<string[]?> TabToAsync(IPage page, string matches)
    {
        for (var presses = 0; presses < 60; presses++)
        {
            await page.Keyboard.PressAsync("Tab");
            var outline = await page.EvaluateAsync<string[]?>($$"""
                () => {
                  const el = document.activeElement;
                  if (!el || !({{matches}})(el)) return null;
                  const shown = el.closest('.mud-switch-base') || el;
                  const style = getComputedStyle(shown);
                  return [style.outlineStyle, style.outlineWidth];
                }
                """);
            if (outline is not null)
            {
                return outline;
            }
        }

        return null;
    }

    [Fact]
    public async Task Theme_DarkChosenThenReload_ComesBackDark()
    {
        var page = await console.NewPageAsync();
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms");
        var background = await BackgroundAsync(page);

        await page.Locator("[data-testid='theme-toggle']").ClickAsync();
        await Expect(page.Locator("body")).Not.ToHaveCSSAsync("background-color", background);
        var dark = await BackgroundAsync(page);
        await Shoot(page, 1440, "vms-dark");
        // The filled primary button in dark mode: its text reads at WCAG AA (4.5:1) at least.
        var colours = await page.Locator("[data-testid='create-vm']").EvaluateAsync<string[]>("b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]");
        var contrast = Contrast(colours[0], colours[1]);
        Assert.True(contrast >= 4.5, $"Create VM in dark mode: {colours[0]} on {colours[1]} is {contrast:0.00}:1");
        await page.ReloadAsync();

        // The first HTML already dark: read before the live connection is up.
        Assert.Equal(dark, await BackgroundAsync(page));
        await page.Context.CloseAsync();
    }

    /// <summary>WCAG 2 contrast of two CSS rgb()/rgba() colours (opaque).</summary>
    private static double Contrast(string first, string second)
    {
        static double Luminance(string css)
        {
            var channels = Regex.Matches(css, @"[0-9.]+").Take(3).Select(m => double.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture) / 255)
                .Select(c => c <= 0.04045 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4)).ToArray();
            return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
        }

        var (a, b) = (Luminance(first), Luminance(second));
        return (Math.Max(a, b) + 0.05) / (Math.Min(a, b) + 0.05);
    }

    private static Task<string> BackgroundAsync(IPage page) => page.EvaluateAsync<string>("() => getComputedStyle(document.body).backgroundColor");

    private static List<string> WatchConsole(IPage page)
    {
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add($"{page.Url}: {message.Text}");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add($"{page.Url}: uncaught {error}");
            }
        };
        return errors;
    }

    private static async Task CheckAsync(IPage page, string name, int width, List<string> errors, List<string> problems)
    {
        // Let the page settle (charts size themselves, virtualized rows come in) before it is measured.
        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        await Shoot(page, width, name);
        problems.AddRange((await page.EvaluateAsync<string[]>(ControlsOutOfViewScript)).Select(p => $"{name}: {p}"));
        lock (errors)
        {
            problems.AddRange(errors.Select(e => $"{name}: console error {e}"));
            errors.Clear();
        }
    }

    private static Task Shoot(IPage page, int width, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ShotDirectory, $"{width}-{name}.png"), FullPage = true });
}
