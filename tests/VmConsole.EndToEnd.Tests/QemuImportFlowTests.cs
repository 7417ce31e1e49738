using System.Text.RegularExpressions;
using Microsoft.Playwright;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Qemu;
using static Microsoft.Playwright.Assertions;

namespace VmConsole.EndToEnd.Tests;

/// <summary>A QEMU stream file imported through the browser, then its memory read back in the inspector.</summary>
public sealed class QemuImportFlowTests(ConsoleInBrowser console) : IClassFixture<ConsoleInBrowser>, IDisposable
{
    private static readonly byte[] Marker = [.. "Hello from a QEMU stream file!"u8, 0x00, 0x7f, 0xff];
    private const long MarkerOffset = 0x5_0010;

    private readonly string _streamFile = Path.Combine(Path.GetTempPath(), $"vmconsole-e2e-{Guid.NewGuid():N}.stream");

    [Fact]
    public async Task ImportDialog_StreamFile_MakesTheVmWhoseMemoryTheInspectorShows()
    {
        await WriteStreamFileAsync();
        var page = await console.NewPageAsync();
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms");

        await page.Locator("[data-testid='import-vm']").ClickAsync();
        var dialog = page.Locator("[data-testid='import-vm-dialog']");
        await dialog.Locator("input[data-testid='import-name']").FillAsync("from-qemu-1");
        // Blazor's InputFile listens for the change only once its script has set the input up; a file set
        // before that is never seen (it failed that way once on a fresh clone).
        await page.WaitForFunctionAsync(
            "() => { const input = document.querySelector(\"[data-testid='import-vm-dialog'] input[type='file']\"); return !!input && input._blazorInputFileNextFileId !== undefined; }",
            null,
            new() { Timeout = 15_000 });
        await dialog.Locator("input[type='file']").SetInputFilesAsync(_streamFile);
        await Expect(dialog.Locator("[data-testid='import-file-name']")).ToContainTextAsync(Path.GetFileName(_streamFile));
        await Expect(page.Locator("[data-testid='import-submit']")).ToBeEnabledAsync();
        // The dialog alone first: it waits for the button's transition to settle before the whole page is taken.
        await page.Locator(".mud-dialog").ScreenshotAsync(new() { Path = Path.Combine(Path.GetTempPath(), "vmconsole-import-dialog-only.png") });
        await ConsoleInBrowser.ScreenshotAsync(page, "import-dialog.png");

        await page.Locator("[data-testid='import-submit']").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/vms/from-qemu-1$"), new() { Timeout = 30_000 });
        Assert.Equal(RunState.Running, console.Emulator.GetVm("from-qemu-1").RunState);
        await page.Locator("[data-testid='inspector-toggle']").ClickAsync();
        await Expect(page.Locator("[data-testid='hex-view']")).ToHaveAttributeAsync("data-block", "microvm.ram");
        await page.Locator("input[data-testid='inspector-goto']").FillAsync($"0x{MarkerOffset:x}");
        await page.Locator("input[data-testid='inspector-goto']").PressAsync("Enter");

        var line = page.Locator($"[data-offset='0x{MarkerOffset:x16}']");
        await Expect(line.Locator(".vmc-hex-bytes")).ToHaveTextAsync("48 65 6c 6c 6f 20 66 72  6f 6d 20 61 20 51 45 4d");
        await Expect(line.Locator(".vmc-hex-ascii")).ToHaveTextAsync("Hello from a QEM");
        await Expect(page.Locator($"[data-offset='0x{MarkerOffset + 16:x16}'] .vmc-hex-ascii")).ToHaveTextAsync("U stream file!..");
        var next = page.Locator($"[data-offset='0x{MarkerOffset + 32:x16}']");
        await Expect(next.Locator(".vmc-hex-bytes")).ToHaveTextAsync("ff 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00");
        await Expect(line).ToHaveClassAsync(new Regex("vmc-hex-target"));
        await ConsoleInBrowser.ScreenshotAsync(page, "memory-inspector.png");
        await page.Locator("[data-testid='memory-inspector']").ScreenshotAsync(new() { Path = Path.Combine(Path.GetTempPath(), "vmconsole-inspector-only.png") });
        await page.Locator("[data-testid='theme-toggle']").ClickAsync();
        await page.Locator("[data-testid='memory-inspector']").ScreenshotAsync(new() { Path = Path.Combine(ConsoleInBrowser.ScreenshotDirectory, "memory-inspector-dark.png") });

        await page.Locator("input[data-testid='inspector-goto']").FillAsync("0x1000000");
        await page.Locator("[data-testid='inspector-goto-submit']").ClickAsync();
        await Expect(page.Locator("[data-testid='memory-inspector']")).ToContainTextAsync("Offset 0x1000000 is past the end of 'microvm.ram'");
    }

    /// <summary>A 16 MiB microvm with the marker in its RAM, exported as a stream file QEMU loads, then deleted.</summary>
    private async Task WriteStreamFileAsync()
    {
        var host = console.Emulator.Hosts.OrderByDescending(h => h.FreeBytes).First().Name;
        var source = console.Emulator.CreateVm(new VmDefinition("qemu-export-src", host, "microvm", 16 * Sizes.MiB) { Start = true });
        source.FindMigratable("microvm.ram")!.Write(MarkerOffset, Marker);
        await using (var file = File.Create(_streamFile))
        {
            await QemuStreamExport.ExportAsync(source, file);
        }

        await console.Emulator.DeleteVmAsync(source.Name);
    }

    public void Dispose() => File.Delete(_streamFile);
}
