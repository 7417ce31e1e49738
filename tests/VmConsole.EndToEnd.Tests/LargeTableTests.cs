using System.Diagnostics;
using VmConsole.Emulation.Vms;
using static Microsoft.Playwright.Assertions;

namespace VmConsole.EndToEnd.Tests;

/// <summary>A VM with 10,000 RAM blocks: the page opens, renders only what is on screen, and scrolls to the end.</summary>
public sealed class LargeTableTests(ConsoleInBrowser console) : IClassFixture<ConsoleInBrowser>
{
    private const int Backends = 10_000;

    [Fact]
    public async Task VmPage_TenThousandBlocks_OpensVirtualizedAndScrollsToTheLastBlock()
    {
        var vm = console.Emulator.CreateVm(new VmDefinition("big-1", "host-b", "microvm", 16L * 1024 * 1024) { Start = true });
        for (var i = 0; i < Backends; i++)
        {
            vm.AddMemoryBackend($"mem{i:D5}", 4096);
        }

        var page = await console.NewPageAsync();
        await page.AddInitScriptAsync(RowsPerFrameScript);
        var clock = Stopwatch.StartNew();
        await ConsoleInBrowser.GotoInteractiveAsync(page, "/vms/big-1");
        var table = page.Locator("[data-testid='ramblock-table']");
        await Expect(table.Locator("[data-idstr='microvm.ram']")).ToHaveCountAsync(1);
        var opened = clock.Elapsed;

        // From the prerendered rows to the virtualized ones, the table body never goes empty, not even for a frame.
        await page.WaitForFunctionAsync("() => window.__vmcRowFrames?.done === true");
        var frames = await page.EvaluateAsync<int[]>("() => window.__vmcRowFrames.counts");
        var shown = Array.FindIndex(frames, count => count > 0);
        Assert.True(shown >= 0, "No row was ever shown.");
        var emptyAfterShown = frames.Skip(shown).Count(count => count == 0);
        Assert.True(emptyAfterShown == 0, $"The table body was empty for {emptyAfterShown} frame(s) after rows were shown: {string.Join(' ', frames)}");
        await Expect(page.GetByText($"{Backends + 5:N0} blocks")).ToBeVisibleAsync();

        // Only rows near the viewport are in the page, not ten thousand.
        var rendered = await table.Locator("tbody tr").CountAsync();
        Assert.InRange(rendered, 10, 300);

        var scroller = table.Locator(".mud-table-container");
        clock.Restart();
        await scroller.EvaluateAsync("el => el.scrollTop = el.scrollHeight");
        await Expect(table.Locator("[data-backend='mem09999']")).ToBeVisibleAsync();
        var scrolled = clock.Elapsed;
        Assert.InRange(await table.Locator("tbody tr").CountAsync(), 10, 300);
        await ConsoleInBrowser.ScreenshotAsync(page, "vm-page-10000-blocks.png");

        // Seen by whoever runs the tests; the targets themselves live in the benchmarks.
        Console.WriteLine($"10,000-block VM page: interactive with the table in {opened.TotalMilliseconds:N0} ms, last block shown {scrolled.TotalMilliseconds:N0} ms after scrolling to the end; {rendered} rows in the page.");
    }

    // Runs before the page's own scripts: the number of table rows in every animation frame from the page's start
    // until 2 s after the live connection is up (the layout says so), which covers the prerendered rows, the circuit's
    // first render and Virtualize's first measured render; at most 20 s.
    private const string RowsPerFrameScript =
        """
        (() => {
          const frames = window.__vmcRowFrames = { counts: [], done: false };
          const start = performance.now();
          let interactiveAt;
          const sample = () => {
            const now = performance.now();
            frames.counts.push(document.querySelectorAll("[data-testid='ramblock-table'] tbody tr").length);
            if (interactiveAt === undefined && document.querySelector("[data-interactive='true']")) interactiveAt = now;
            if ((interactiveAt !== undefined && now - interactiveAt > 2000) || now - start > 20000) frames.done = true;
            else requestAnimationFrame(sample);
          };
          requestAnimationFrame(sample);
        })();
        """;
}
