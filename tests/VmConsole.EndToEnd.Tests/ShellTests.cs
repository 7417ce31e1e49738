using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace VmConsole.EndToEnd.Tests;

/// <summary>The frame around every page: the VMs grid, the users page, the banner when the live connection drops.</summary>
public sealed class ShellTests(ConsoleInBrowser console) : IClassFixture<ConsoleInBrowser>
{
    [Fact]
    public async Task LiveConnection_DroppedThenBack_BannerShowsWhileReconnectingAndGoesAway()
    {
        var page = await console.NewPageAsync();
        var blocked = false;
        IWebSocketRoute? live = null;
        await page.RouteWebSocketAsync(new Regex("/_blazor"), socket =>
        {
            if (blocked)
            {
                _ = socket.CloseAsync(new() { Code = 1011, Reason = "test: network down" });
                return;
            }

            live = socket;
            socket.ConnectToServer();
        });
        await page.RouteAsync(new Regex("/_blazor/negotiate"), route => blocked ? route.AbortAsync() : route.ContinueAsync());
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms/tiny-1");
        var banner = page.Locator("[data-testid='reconnect-banner']");
        await Expect(banner).ToBeHiddenAsync();

        blocked = true;
        await live!.CloseAsync(new() { Code = 1011, Reason = "test: network down" });

        await Expect(banner).ToBeVisibleAsync();
        await Expect(banner).ToContainTextAsync("reconnecting");
        await ConsoleInBrowser.ScreenshotAsync(page, "reconnecting.png");

        blocked = false;
        await Expect(banner).ToBeHiddenAsync(new() { Timeout = 20_000 });

        // Back on the same circuit: the page is live again without a reload.
        var state = page.Locator(".mud-main-content [data-state]").First;
        await page.Locator("[data-action='pause']").ClickAsync();
        await page.Locator("[data-testid='confirm-yes']").ClickAsync();
        await Expect(state).ToHaveAttributeAsync("data-state", "paused");
        await page.Locator("[data-action='resume']").ClickAsync();
        await Expect(state).ToHaveAttributeAsync("data-state", "running");
    }

    [Fact]
    public async Task VmsGrid_SearchSortCreateAndDelete_AsAnAdminWould()
    {
        var page = await console.NewPageAsync();
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/");
        await page.Locator("[data-testid='nav-vms']").ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/vms$"));
        var grid = page.Locator("[data-testid='vms-grid']");
        await Expect(grid.Locator("[data-vm]")).ToHaveCountAsync(3);

        // On a 1280-pixel laptop screen every row's actions, delete last, are in view without scrolling sideways.
        await page.SetViewportSizeAsync(1280, 900);
        var gridBox = (await grid.BoundingBoxAsync())!;
        foreach (var delete in await grid.Locator("[data-action='delete']").AllAsync())
        {
            var box = (await delete.BoundingBoxAsync())!;
            Assert.True(box.X + box.Width <= gridBox.X + gridBox.Width, $"a delete button ends at {box.X + box.Width}, the grid at {gridBox.X + gridBox.Width}");
        }

        Assert.True(await grid.Locator("table").EvaluateAsync<bool>("t => t.getBoundingClientRect().width <= t.parentElement.getBoundingClientRect().width + 1"));
        await page.SetViewportSizeAsync(1440, 1000);

        await page.GetByPlaceholder("Search name, host, machine, state").FillAsync("microvm");
        await Expect(grid.Locator("[data-vm]")).ToHaveCountAsync(1);
        await Expect(grid.Locator("[data-vm='tiny-1']")).ToHaveCountAsync(1);
        await page.GetByPlaceholder("Search name, host, machine, state").FillAsync("");
        await Expect(grid.Locator("[data-vm]")).ToHaveCountAsync(3);

        // Sort by memory, largest first: db-1 (1 GiB), web-1 (512 MiB), tiny-1 (16 MiB).
        var memoryHeader = grid.Locator("th", new() { HasText = "Memory" });
        await memoryHeader.Locator(".sortable-column-header").ClickAsync();
        await memoryHeader.Locator(".sortable-column-header").ClickAsync();
        await Expect(grid.Locator("[data-vm]")).ToHaveTextAsync(["db-1", "web-1", "tiny-1"]);

        await page.Locator("[data-testid='create-vm']").ClickAsync();
        var dialog = page.Locator("[data-testid='create-vm-dialog']");
        await Expect(dialog).ToBeVisibleAsync();
        await ConsoleInBrowser.AutoFocusedAsync(page, "create-vm-dialog");
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync("Bad_Name");
        await Expect(dialog).ToContainTextAsync("1 to 63 lower-case letters");
        await Expect(page.Locator("[data-testid='create-vm-submit']")).ToBeDisabledAsync();
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync("db-1");
        await Expect(dialog).ToContainTextAsync("A VM named 'db-1' already exists.");
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync("cache-1");
        await dialog.GetByLabel("Memory (MiB)").FillAsync("99999999");
        await Expect(dialog).ToContainTextAsync("free");
        await Expect(page.Locator("[data-testid='create-vm-submit']")).ToBeDisabledAsync();
        await dialog.GetByLabel("Memory (MiB)").FillAsync("256");
        await Expect(page.Locator("[data-testid='create-vm-submit']")).ToBeEnabledAsync();
        await ConsoleInBrowser.ScreenshotAsync(page, "create-vm-dialog.png");
        await page.Locator("[data-testid='create-vm-submit']").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/vms/cache-1$"));
        await Expect(page.Locator("[data-idstr='pc.ram']")).ToHaveCountAsync(1);
        Assert.Equal(256L * 1024 * 1024, console.Emulator.GetVm("cache-1").MemoryBytes);

        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms");
        await Expect(grid.Locator("[data-vm]")).ToHaveCountAsync(4);
        await ConsoleInBrowser.ScreenshotAsync(page, "vms.png");
        var row = grid.Locator("tr", new() { Has = page.Locator("[data-vm='cache-1']") });
        await row.Locator("[data-action='delete']").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await Expect(grid.Locator("[data-vm]")).ToHaveCountAsync(3);
        Assert.False(console.Emulator.TryGetVm("cache-1", out _));
    }

    [Fact]
    public async Task UsersPage_AdminAddsAViewer_ViewerSeesNoUsersPage()
    {
        var page = await console.NewPageAsync();
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/");
        await page.Locator("[data-testid='nav-users']").ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/users$"));
        await Expect(page.Locator("[data-user='admin']")).ToHaveCountAsync(1);

        await page.Locator("[data-testid='add-user']").ClickAsync();
        var dialog = page.Locator("[data-testid='add-user-dialog']");
        await ConsoleInBrowser.AutoFocusedAsync(page, "add-user-dialog");
        await dialog.GetByLabel("User name").FillAsync("alice");
        await dialog.GetByLabel("Password").FillAsync("short");
        await page.Locator("[data-testid='add-user-submit']").ClickAsync();
        await Expect(dialog.Locator("[data-testid='add-user-error']").First).ToContainTextAsync("at least 8");
        await dialog.GetByLabel("Password").FillAsync("Viewer-Password-1");
        await page.Locator("[data-testid='add-user-submit']").ClickAsync();
        await Expect(page.Locator("[data-user='alice']")).ToHaveCountAsync(1);
        await ConsoleInBrowser.ScreenshotAsync(page, "users.png");

        // The only admin cannot be deleted, and the page says why.
        var adminRow = page.Locator("tr", new() { Has = page.Locator("[data-user='admin']") });
        await adminRow.Locator("[data-action='delete-user']").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await Expect(page.Locator("[data-testid='users-error']")).ToContainTextAsync("cannot delete the account you are signed in with");

        var viewer = await console.NewAnonymousPageAsync();
        await viewer.GotoAsync("/login");
        await viewer.Locator("input[name='userName']").FillAsync("alice");
        await viewer.Locator("input[name='password']").FillAsync("Viewer-Password-1");
        await viewer.Locator("[data-testid='signin-form'] button[type='submit']").ClickAsync();
        await Expect(viewer.Locator("[data-testid='signed-in-user']")).ToContainTextAsync("alice · Viewer");
        await Expect(viewer.Locator("[data-testid='nav-users']")).ToHaveCountAsync(0);
        await ConsoleInBrowser.GotoInteractiveAsync(viewer, "/vms");
        await Expect(viewer.Locator("[data-testid='create-vm']")).ToBeDisabledAsync();
        await viewer.GotoAsync("/users");
        await Expect(viewer).ToHaveURLAsync(new Regex("/login\\?.*error=forbidden"));
    }
}
