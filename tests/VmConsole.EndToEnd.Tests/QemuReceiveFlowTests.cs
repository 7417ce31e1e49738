using System.Text.RegularExpressions;
using Microsoft.Playwright;
using VmConsole.Emulation.Vms;
using static Microsoft.Playwright.Assertions;

namespace VmConsole.EndToEnd.Tests;

/// <summary>A live migration from a real QEMU 7.2 into the console, set up and followed in the browser.</summary>
public sealed class QemuReceiveFlowTests(ConsoleInBrowser console) : IClassFixture<ConsoleInBrowser>
{
    private static readonly byte[] Marker = [.. "Hello from a live QEMU!"u8, 0x00, 0x7f, 0xff];
    private const long MarkerAddress = 0x5_0010;

    [Fact]
    public async Task ReceiveDialog_QemuMigratesLive_VmArrivesThenRunsWithQemusBytes()
    {
        await using var qemu = await QemuProcess.StartMicrovmAsync();
        await qemu.WriteAsync(MarkerAddress, Marker);
        // 256 KiB of non-zero pages at 64 KiB/s: a few seconds to watch the migration arrive.
        var filler = new byte[256 << 10];
        new Random(7).NextBytes(filler);
        await qemu.WriteAsync(0x10_0000, filler);
        await qemu.QmpAsync("migrate-set-parameters", new Dictionary<string, object> { ["max-bandwidth"] = 64 << 10 });

        var page = await console.NewPageAsync();
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms");
        await page.Locator("[data-testid='receive-vm']").ClickAsync();
        var dialog = page.Locator("[data-testid='receive-vm-dialog']");
        await dialog.Locator("input[data-testid='receive-name']").FillAsync("live-from-qemu");
        await page.Locator("[data-testid='receive-submit']").ClickAsync();

        var command = page.Locator("[data-testid='receive-command']");
        await Expect(command).ToHaveTextAsync(new Regex(@"^migrate -d tcp:127\.0\.0\.1:\d+$"));
        var uri = (await command.TextContentAsync())!["migrate -d ".Length..].Trim();
        await ConsoleInBrowser.ScreenshotAsync(page, "receive-dialog.png");

        await page.Locator("[data-testid='receive-open-migration']").ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/migrations/[^/]+$"));
        var status = page.Locator("[data-testid='migration-status']");
        await Expect(status).ToHaveAttributeAsync("data-status", "setup");
        await Expect(page.Locator("[data-testid='migration-qemu-command']")).ToHaveTextAsync($"migrate -d {uri}");

        // The VM is listed while it arrives: the VMs page in a second tab shows it in inmigrate.
        var vms = await console.NewPageAsync();
        await ConsoleInBrowser.GotoInteractiveAsync(vms, "/vms");
        await Expect(vms.Locator("[data-arriving='live-from-qemu']")).ToContainTextAsync("inmigrate", new() { IgnoreCase = true });

        // Its page says it is arriving and links the migration.
        await vms.Locator("[data-arriving='live-from-qemu'] a", new() { HasText = "live-from-qemu" }).ClickAsync();
        await Expect(vms).ToHaveURLAsync(new Regex("/vms/live-from-qemu$"));
        await Expect(vms.Locator("[data-testid='arriving-banner']")).ToContainTextAsync("arriving from QEMU");

        // A running source (qtest keeps its vCPU from executing): its globalstate says running, so the VM runs on arrival.
        await qemu.QmpAsync("cont");
        await qemu.QmpAsync("migrate", new { uri });

        await Expect(status).ToHaveAttributeAsync("data-status", "active", new() { Timeout = 30_000 });
        // Live numbers while it arrives, not only at the end.
        await page.WaitForFunctionAsync(
            "() => { const s = document.querySelector(\"[data-testid='migration-stats']\"); return !!s && /Received\\s*[1-9]/.test(s.textContent); }",
            null,
            new() { Timeout = 30_000 });
        Assert.Equal("active", await status.GetAttributeAsync("data-status"));
        await ConsoleInBrowser.ScreenshotAsync(page, "receive-migration-active.png");
        await Expect(status).ToHaveAttributeAsync("data-status", "completed", new() { Timeout = 60_000 });
        await qemu.WaitMigrationAsync();
        await ConsoleInBrowser.ScreenshotAsync(page, "receive-migration-completed.png");

        // The arriving VM's page becomes the running VM's page, without a reload.
        await Expect(vms.Locator("[data-testid='migrate-button']")).ToBeEnabledAsync(new() { Timeout = 15_000 });
        await Expect(vms.Locator("[data-testid='arriving-banner']")).ToHaveCountAsync(0);
        Assert.Equal(RunState.Running, console.Emulator.GetVm("live-from-qemu").RunState);

        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms/live-from-qemu");
        await page.Locator("[data-testid='inspector-toggle']").ClickAsync();
        await Expect(page.Locator("[data-testid='hex-view']")).ToHaveAttributeAsync("data-block", "microvm.ram");
        await page.Locator("input[data-testid='inspector-goto']").FillAsync($"0x{MarkerAddress:x}");
        await page.Locator("input[data-testid='inspector-goto']").PressAsync("Enter");
        var line = page.Locator($"[data-offset='0x{MarkerAddress:x16}']");
        await Expect(line.Locator(".vmc-hex-ascii")).ToHaveTextAsync("Hello from a liv");
        await Expect(page.Locator($"[data-offset='0x{MarkerAddress + 16:x16}'] .vmc-hex-ascii")).ToHaveTextAsync("e QEMU!.........");
    }
}
