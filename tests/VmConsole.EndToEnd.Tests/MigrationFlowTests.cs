using System.Text.RegularExpressions;
using Microsoft.Playwright;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using static Microsoft.Playwright.Assertions;

namespace VmConsole.EndToEnd.Tests;

/// <summary>Start a migration from the VM page, watch it live, see the freeze, cancel it.</summary>
public sealed class MigrationFlowTests(ConsoleInBrowser console) : IClassFixture<ConsoleInBrowser>
{
    [Fact]
    public async Task Migrate_Db1ToHostBAtLowBandwidth_ShowsLiveProgressFreezeAndCancels()
    {
        // db-1 dirties 8 MB/s, eight times the 1 MiB/s chosen below, and auto-converge stays off: the
        // migration cannot converge, so it is still running when Cancel is clicked however fast the machine
        // is (an idle db-1 is mostly zero pages, which cost a byte each, and finishes in seconds).
        console.Emulator.GetVm("db-1").SetWorkload(new WorkloadSpec(WorkloadKind.Uniform, PagesPerSecond: 2_000));
        // Sign in as a person would.
        var page = await console.NewAnonymousPageAsync();
        await page.GotoAsync("/vms/db-1");
        await Expect(page).ToHaveURLAsync(new Regex("/login"));
        await page.Locator("input[name='userName']").FillAsync("admin");
        await page.Locator("input[name='password']").FillAsync(ConsoleInBrowser.AdminPassword);
        await ConsoleInBrowser.ScreenshotAsync(page, "sign-in.png");
        await page.Locator("[data-testid='signin-form'] button[type='submit']").ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/vms/db-1$"));
        await Expect(page.Locator("[data-interactive='true']")).ToHaveCountAsync(1);

        await page.Locator("[data-testid='migrate-button']").ClickAsync();
        var dialog = page.Locator("[data-testid='migrate-dialog']");
        await Expect(dialog).ToBeVisibleAsync();
        await ConsoleInBrowser.AutoFocusedAsync(page, "migrate-dialog");
        await Expect(dialog).ToContainTextAsync("host-b ·");
        await dialog.GetByLabel("Max bandwidth (MiB/s, 0 = unlimited)").FillAsync("1");
        // db-1 dirties faster than 1 MiB/s: the dialog warns, and starts only once told to go ahead anyway.
        await Expect(dialog.Locator("[data-testid='convergence-warning']")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-testid='migrate-start']")).ToBeDisabledAsync();
        await dialog.GetByText("Start anyway, it may not converge").ClickAsync();
        await ConsoleInBrowser.ScreenshotAsync(page, "migrate-dialog.png");
        await page.Locator("[data-testid='migrate-start']").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/migrations/mig-[0-9a-f]+$"));
        var status = page.Locator("[data-testid='migration-status']");
        await Expect(status).ToHaveAttributeAsync("data-status", "active");
        await Expect(page.Locator("body")).ToContainTextAsync("host-a → host-b");
        var transferred = page.Locator("[data-testid='migration-stats'] .vmc-fact").First;
        var first = await transferred.InnerTextAsync();
        await Expect(transferred).Not.ToHaveTextAsync(first, new() { Timeout = 15_000 });

        // A few seconds of history, so the charts in the screenshot show a trend (the numbers were checked above).
        await page.WaitForTimeoutAsync(4_000);
        await ConsoleInBrowser.ScreenshotAsync(page, "migration-page.png");

        var migrationUrl = page.Url;
        var migrationId = migrationUrl[(migrationUrl.LastIndexOf('/') + 1)..];
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms/db-1");
        var banner = page.Locator("[data-testid='freeze-banner']");
        await Expect(banner).ToContainTextAsync("is active: the set of migratable RAM blocks is frozen");
        await Expect(page.Locator("[data-testid='lock-icon']").First).ToBeVisibleAsync();

        // Per block, what the migration sent and has left, live.
        var ramProgress = page.Locator("[data-block-progress='pc.ram']");
        await Expect(ramProgress).ToBeVisibleAsync();
        var sentBefore = await ramProgress.GetAttributeAsync("data-sent");
        await Expect(ramProgress).Not.ToHaveAttributeAsync("data-sent", sentBefore!, new() { Timeout = 15_000 });

        // The freeze, as a user meets it: unset migratable on pc.ram is locked before the click, says why, and links to the migration.
        var ram = page.Locator("tr", new() { Has = page.Locator("[data-idstr='pc.ram']") });
        var toggle = ram.Locator("[data-action='toggle-migratable']");
        await Expect(toggle).ToBeDisabledAsync();
        await Expect(toggle).ToHaveAttributeAsync("data-locked", migrationId);
        await Expect(ram.Locator("[data-testid='lock-icon']")).ToHaveAttributeAsync("href", $"migrations/{migrationId}");
        await ram.Locator(".mud-tooltip-root", new() { Has = page.Locator("[data-action='toggle-migratable']") }).HoverAsync();
        await Expect(page.GetByText($"Locked while migration {migrationId} is active: unset migratable")).ToBeVisibleAsync();
        await ConsoleInBrowser.ScreenshotAsync(page, "vm-page-refusal.png");
        // Whoever gets past the page (a script, a page drawn before the migration) meets the console's refusal.
        var refusal = await page.EvaluateAsync<string>(@"async () => {
            const blocks = await (await fetch('/api/vms/db-1/ramblocks')).json();
            const block = blocks.find(b => b.idStr === 'pc.ram');
            const answer = await fetch(`/api/vms/db-1/ramblocks/${block.id}/migratable`,
                { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ migratable: false }) });
            return answer.status + ' ' + (await answer.json()).code;
        }");
        Assert.Equal("409 migratable-set-frozen", refusal);

        // A backend no device uses is harmless: allowed during the migration.
        await page.Locator("[data-testid='add-backend']").ClickAsync();
        await page.Locator(".vmc-backend-id input").FillAsync("scratch0");
        await page.Locator("[data-testid='add-backend-submit']").ClickAsync();
        await Expect(page.Locator("[data-backend='scratch0']")).ToHaveCountAsync(1);
        await ConsoleInBrowser.ScreenshotAsync(page, "vm-page-migrating.png");

        await page.GotoAsync(migrationUrl);
        await Expect(page.Locator("[data-interactive='true']")).ToHaveCountAsync(1);
        // "Cancelling..." may last only milliseconds: a watcher in the page notes it if it ever shows (textContent,
        // not innerText: the button shows it in capitals through CSS).
        await page.EvaluateAsync(@"() => {
            window.__sawCancelling = false;
            new MutationObserver(() => { if (document.body.textContent.includes('Cancelling...')) window.__sawCancelling = true; })
                .observe(document.body, { childList: true, subtree: true, characterData: true });
        }");
        await page.Locator("[data-testid='migration-cancel']").ClickAsync();
        await Expect(status).ToHaveAttributeAsync("data-status", "cancelled");
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sawCancelling"), "the page never said Cancelling...");
        await Expect(page.Locator("[data-testid='migration-cancelling']")).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-testid='migration-summary']")).ToContainTextAsync("Cancelled");
        await ConsoleInBrowser.ScreenshotAsync(page, "migration-cancelled.png");

        await ConsoleInBrowser.GotoInteractiveAsync(page, "/audit");
        var refused = page.Locator("[data-testid='audit-table'] tr", new() { Has = page.Locator("[data-testid='audit-refused']") });
        await Expect(refused.First).ToContainTextAsync("migratable-set-frozen");
        await Expect(refused.First).ToContainTextAsync("pc.ram");
        await ConsoleInBrowser.ScreenshotAsync(page, "audit.png");

        var vm = console.Emulator.GetVm("db-1");
        Assert.Equal("host-a", vm.Host.Name);
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.False(vm.Freeze.IsFrozen);
    }
}
