using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace VmConsole.EndToEnd.Tests;

/// <summary>
/// The main QEMU flow in the browser: a QEMU VM on qemu-a, its process and RAM block table, a DIMM plugged from the
/// table, a migration to qemu-b started from the Migrate dialog and followed live, a DIMM unplug refused while it
/// runs, then the migration cancelled and the VM still running on qemu-a. Every QEMU process it starts lives under
/// the console's own runtime directory, which the fixture's factory empties of processes when it is disposed.
/// </summary>
public sealed class QemuMainFlowTests(ConsoleInBrowser console) : IClassFixture<ConsoleInBrowser>
{
    private const string VmName = "qemu-flow-1";

    // Starting a QEMU (and, for the migration, a second one) takes seconds on a busy 2-core machine; a QMP round trip
    // and the render after it can take a few: limits for a loaded machine, not for this one.
    private const float QemuStart = 90_000;
    private const float Qmp = 30_000;

    [Fact]
    public async Task QemuVm_MigrateToQemuBAtLowBandwidthThenCancel_ShowsProcessBlocksLiveNumbersRefusalAndStaysOnQemuA()
    {
        var page = await console.NewPageAsync();

        // The Create VM dialog offers no guest program (and lists the emulator's hosts only), so the VM comes from the API,
        // with the signed-in page's own cookie.
        var created = await page.APIRequest.PostAsync("/api/vms", new()
        {
            DataObject = new { name = VmName, host = "qemu-a", machine = "pc", memoryMiB = 256, slots = 2, maxMemMiB = 1024, guest = "sweep", start = true },
            Timeout = QemuStart,
        });
        Assert.True(created.Status == (int)HttpStatusCode.Created, $"POST /api/vms answered {created.Status}: {await created.TextAsync()}");

        // The VM page: a running QEMU VM, its process, and the RAM block table QEMU reports.
        await ConsoleInBrowser.GotoInteractiveAsync(page, $"/vms/{VmName}");
        await Expect(page.Locator(".mud-main-content [data-state]").First).ToHaveAttributeAsync("data-state", "running", new() { Timeout = QemuStart });
        var process = page.Locator("[data-testid='qemu-process']");
        await Expect(process).ToContainTextAsync("7.2", new() { Timeout = Qmp });
        var pid = await FactAsync(process, "Process id");
        Assert.Matches(@"^\d+$", pid);
        await page.Locator("[data-testid='show-command']").ClickAsync();
        await Expect(page.Locator("[data-testid='command-line']")).ToContainTextAsync($"-name {VmName} ");

        var table = page.Locator("[data-testid='ramblock-table']");
        foreach (var name in new[] { "pc.ram", "pc.bios", "pc.rom" })
        {
            await Expect(table.Locator($"[data-idstr='{name}']")).ToHaveCountAsync(1, new() { Timeout = Qmp });
        }

        await Expect(Row(page, "pc.ram")).ToContainTextAsync("256 MiB");
        await Expect(Row(page, "pc.ram")).ToContainTextAsync("migratable");
        await ConsoleInBrowser.ScreenshotAsync(page, "qemu-vm-page.png");

        // A backend added from the toolbar, then plugged as a pc-dimm from its row.
        await page.Locator("[data-testid='add-backend']").ClickAsync();
        await ConsoleInBrowser.AutoFocusedAsync(page, "add-backend-dialog");
        await page.Locator(".vmc-backend-id input").FillAsync("mem1");
        await page.Locator("input[data-testid='backend-size']").FillAsync("128");
        await page.Locator("[data-testid='add-backend-submit']").ClickAsync();
        var backend = table.Locator("tr", new() { Has = page.Locator("[data-backend='mem1']") });
        await Expect(backend).ToContainTextAsync("unplugged backend", new() { Timeout = Qmp });
        await Expect(backend).ToContainTextAsync("not migratable");

        await backend.Locator("[data-action='plug']").ClickAsync();
        var plug = page.Locator(".mud-dialog", new() { HasText = "device_add pc-dimm" });
        await Expect(plug.Locator("input")).ToHaveValueAsync("mem1-dev");
        await plug.GetByRole(AriaRole.Button, new() { Name = "Plug" }).ClickAsync();
        var dimm = Row(page, "mem1");
        await Expect(dimm).ToContainTextAsync("migratable", new() { Timeout = Qmp });
        await Expect(dimm).Not.ToContainTextAsync("not migratable");
        await Expect(dimm.Locator("[data-action='unplug']")).ToHaveCountAsync(1);
        await Expect(page.Locator("body")).ToContainTextAsync("mem1-dev");
        await ConsoleInBrowser.ScreenshotAsync(page, "qemu-vm-dimm.png");

        // The Migrate dialog: qemu-b offered, 1 MiB/s so that the sweep guest (dirtying all of its 256 MiB) never converges.
        await page.Locator("[data-testid='migrate-button']").ClickAsync();
        var dialog = page.Locator("[data-testid='migrate-dialog']");
        await Expect(dialog).ToBeVisibleAsync();
        await ConsoleInBrowser.AutoFocusedAsync(page, "migrate-dialog");
        await Expect(dialog).ToContainTextAsync("qemu-b · QEMU", new() { Timeout = Qmp });
        await dialog.GetByLabel("Max bandwidth (MiB/s, 0 = unlimited)").FillAsync("1");
        // Once QEMU has measured the guest's dirty rate (every 5 s), the dialog warns that 1 MiB/s will not converge:
        // waited for, so that the warning cannot disable Start between the check and the click; then go ahead anyway.
        await Expect(dialog.Locator("[data-testid='convergence-warning']")).ToBeVisibleAsync(new() { Timeout = Qmp });
        await dialog.GetByText("Start anyway, it may not converge").ClickAsync();

        await Expect(page.Locator("[data-testid='migrate-start']")).ToBeEnabledAsync(new() { Timeout = Qmp });
        await ConsoleInBrowser.ScreenshotAsync(page, "qemu-migrate-dialog.png");
        await page.Locator("[data-testid='migrate-start']").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/migrations/mig-[0-9a-f]+$"), new() { Timeout = QemuStart });
        var migrationId = page.Url[(page.Url.LastIndexOf('/') + 1)..];
        var status = page.Locator("[data-testid='migration-status']");
        await Expect(status).ToHaveAttributeAsync("data-status", "active", new() { Timeout = QemuStart });
        await Expect(page.Locator("body")).ToContainTextAsync("qemu-a → qemu-b");
        await Expect(page.Locator("body")).ToContainTextAsync("max bandwidth 1 MiB/s");

        // Live numbers: what was transferred grows while the page is open (twice, so the charts have a trend to show).
        var stats = page.Locator("[data-testid='migration-stats']");
        for (var i = 0; i < 3; i++)
        {
            var transferred = await FactAsync(stats, "Transferred");
            await Expect(FactValue(stats, "Transferred")).Not.ToHaveTextAsync(transferred, new() { Timeout = Qmp });
        }

        Assert.Equal("active", await status.GetAttributeAsync("data-status"));
        await ConsoleInBrowser.ScreenshotAsync(page, "qemu-migration-active.png");

        // The VM page in a second tab, while the migration runs: frozen, and a DIMM's unplug is locked before the click, naming the migration.
        var vmPage = await console.NewPageAsync();
        await ConsoleInBrowser.GotoInteractiveAsync(vmPage, $"/vms/{VmName}");
        await Expect(vmPage.Locator("[data-testid='freeze-banner']")).ToContainTextAsync($"Migration {migrationId} is active: the set of migratable RAM blocks is frozen", new() { Timeout = Qmp });
        var frozenDimm = Row(vmPage, "mem1");
        await Expect(frozenDimm.Locator("[data-testid='lock-icon']")).ToBeVisibleAsync();
        var unplug = frozenDimm.Locator("[data-action='unplug']");
        await Expect(unplug).ToBeDisabledAsync();
        await Expect(unplug).ToHaveAttributeAsync("data-locked", migrationId);
        await frozenDimm.Locator(".mud-tooltip-root", new() { Has = vmPage.Locator("[data-action='unplug']") }).HoverAsync();
        await Expect(vmPage.GetByText($"Locked while migration {migrationId} is active: unplugging a memory device")).ToBeVisibleAsync();
        // Nothing was asked of QEMU: the DIMM is plugged, not pending.
        await Expect(vmPage.Locator("[data-testid='unplug-pending']")).ToHaveCountAsync(0);
        await ConsoleInBrowser.ScreenshotAsync(vmPage, "qemu-vm-refusal.png");

        // Cancel on the migration page: it says Cancelling, then Cancelled. QEMU's cancelling may last only
        // milliseconds, so a watcher in the page notes whether the text ever showed (textContent: the button is in capitals through CSS).
        await page.EvaluateAsync(@"() => {
            window.__sawCancelling = false;
            new MutationObserver(() => { if (document.body.textContent.includes('Cancelling...')) window.__sawCancelling = true; })
                .observe(document.body, { childList: true, subtree: true, characterData: true });
        }");
        await page.Locator("[data-testid='migration-cancel']").ClickAsync();
        await Expect(status).ToHaveAttributeAsync("data-status", "cancelled", new() { Timeout = QemuStart });
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sawCancelling"), "the page never said Cancelling...");
        await Expect(page.Locator("[data-testid='migration-cancelling']")).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-testid='migration-summary']")).ToContainTextAsync("Cancelled");
        await Expect(page.Locator("[data-testid='migration-summary']")).ToContainTextAsync("kept running on qemu-a");
        // Not the events timeline: the console records QEMU's cancelling only when a query-migrate happens to catch it.
        await Expect(page.Locator("[data-testid='migration-events']")).ToContainTextAsync("cancelled");
        await ConsoleInBrowser.ScreenshotAsync(page, "qemu-migration-cancelled.png");

        // The VM page, live: no longer frozen, still running on qemu-a in the same QEMU process, the DIMM still plugged.
        await Expect(vmPage.Locator("[data-testid='freeze-banner']")).ToHaveCountAsync(0, new() { Timeout = Qmp });
        await Expect(vmPage.Locator(".mud-main-content [data-state]").First).ToHaveAttributeAsync("data-state", "running");
        Assert.Equal("qemu-a", await FactAsync(vmPage.Locator("body"), "Host"));
        Assert.Equal(pid, await FactAsync(vmPage.Locator("[data-testid='qemu-process']"), "Process id"));
        await Expect(Row(vmPage, "mem1").Locator("[data-testid='lock-icon']")).ToHaveCountAsync(0);
        await Expect(vmPage.Locator("[data-testid='migrate-button']")).ToBeEnabledAsync();
        await ConsoleInBrowser.ScreenshotAsync(vmPage, "qemu-vm-after-cancel.png");

        var vm = await page.APIRequest.GetAsync($"/api/vms/{VmName}");
        using var json = JsonDocument.Parse(await vm.TextAsync());
        Assert.Equal("qemu-a", json.RootElement.GetProperty("host").GetString());
        Assert.Equal("running", json.RootElement.GetProperty("runState").GetString());
    }

    /// <summary>The RAM block table's row of the block named <paramref name="idstr"/>.</summary>
    private static ILocator Row(IPage page, string idstr) =>
        page.Locator("[data-testid='ramblock-table'] tr", new() { Has = page.Locator($"[data-idstr='{idstr}']") });

    /// <summary>The value of the fact labelled <paramref name="label"/> inside <paramref name="scope"/>.</summary>
    private static async Task<string> FactAsync(ILocator scope, string label) => (await FactValue(scope, label).InnerTextAsync()).Trim();

    private static ILocator FactValue(ILocator scope, string label) =>
        scope.Locator(".vmc-fact", new() { Has = scope.Page.GetByText(label, new() { Exact = true }) }).Locator(".mud-typography-body1");
}
