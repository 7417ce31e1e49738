using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;

namespace VmConsole.Benchmarks.Server;

/// <summary>
/// Macro D: the VM page of a VM with 10,000 RAM blocks in Debian's Chromium, signed in. The page marks, on the
/// browser's own clock from navigation start, the frame in which the table's first rows are on screen, the one in
/// which the toolbar shows the full block count, the one in which the table's scroll range covers every block (the
/// virtualised table's spacers), and the one in which the page is live (its circuit is up). The first navigation is
/// cold (fresh browser cache, first render of the page on the server); the others are warm. The stderr log splits each
/// run into server (HTML), transfer and browser time.
/// </summary>
public sealed class TableRenderSuite : IBenchmarkSuite
{
    private const string Section = "Macro D";
    private const string ChromiumPath = "/usr/bin/chromium";
    private const int Backends = 10_000;
    private const double TargetMs = 1000;
    private const string VmName = "big-1";

    public string Name => "table";

    public int Order => 50;

    public async Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        if (!File.Exists(ChromiumPath))
        {
            const string missing = ChromiumPath + " is missing (Debian's chromium package; .ci/run installs it)";
            return
            [
                new Measurement(Section, FirstRowsName, double.NaN, "ms", Target, Note: missing),
                new Measurement(Section, CountName, double.NaN, "ms", Note: missing),
            ];
        }

        var warmRuns = options.Quick ? 2 : 5;
        await using var server = ConsoleServer.Start(options.WorkDirectory);
        var blocks = Seed(server.Services.GetRequiredService<Emulator>());

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        await using var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1440, Height = 1000 },
        });
        context.SetDefaultTimeout(30_000);
        await context.AddInitScriptAsync(MarkScript
            .Replace("__COUNT__", $"{blocks.ToString("N0", CultureInfo.InvariantCulture)} blocks", StringComparison.Ordinal)
            .Replace("__BLOCKS__", blocks.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        var login = await context.APIRequest.PostAsync("/api/auth/login", new APIRequestContextOptions { DataObject = new { userName = "admin", password = ConsoleServer.AdminPassword } });
        if (!login.Ok)
        {
            throw new InvalidOperationException($"Sign-in failed: {login.Status}");
        }

        var runs = new List<Marks>();
        for (var run = 0; run <= warmRuns; run++)
        {
            var marks = await OpenAsync(context);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"table: {(run == 0 ? "cold" : "warm")} run: first rows {marks.FirstRow:0} ms ({marks.FirstRows} rows), count {marks.Count:0} ms, " +
                $"every block scrollable {marks.Full:0} ms, live {marks.Interactive:0} ms; HTML: server {marks.ResponseStart - marks.RequestStart:0} ms, " +
                $"transfer {marks.ResponseEnd - marks.ResponseStart:0} ms ({marks.HtmlBytes / 1024:N0} KiB)"));
            runs.Add(marks);
        }

        var cold = runs[0];
        var warm = runs.Skip(1).ToList();
        var firstRows = Median(warm.Select(m => m.FirstRow));
        var profile = string.Create(CultureInfo.InvariantCulture,
            $"median of {warm.Count} warm runs; the first rows come with the page's HTML ({Median(warm.Select(m => m.HtmlBytes)) / 1024:N0} KiB, " +
            $"from the server after {Median(warm.Select(m => m.ResponseStart - m.RequestStart)):0} ms)");
        var warmNote = $"median of {warm.Count} warm runs";
        return
        [
            new Measurement(Section, FirstRowsName, firstRows, "ms", Target, firstRows < TargetMs, profile),
            new Measurement(Section, FirstRowsName + ", cold", cold.FirstRow, "ms", Target, cold.FirstRow < TargetMs,
                string.Create(CultureInfo.InvariantCulture, $"first load: empty browser cache, first render of the page since the server started (HTML after {cold.ResponseStart - cold.RequestStart:0} ms)")),
            new Measurement(Section, CountName, Median(warm.Select(m => m.Count)), "ms", Note: warmNote),
            new Measurement(Section, $"VM page with {Backends:N0} RAM blocks: table scrolls through every block", Median(warm.Select(m => m.Full)), "ms",
                Note: warmNote + "; virtualised: the scroll range stands for all rows once the page is live"),
            new Measurement(Section, $"VM page with {Backends:N0} RAM blocks: live (actions enabled)", Median(warm.Select(m => m.Interactive)), "ms", Note: warmNote),
        ];
    }

    private static string FirstRowsName => $"VM page with {Backends:N0} RAM blocks: first table rows on screen";

    private static string CountName => $"VM page with {Backends:N0} RAM blocks: full block count shown";

    private static string Target => $"< {TargetMs / 1000:0} s";

    /// <summary>The LargeTable browser test's VM: a microvm and 10,000 small memory backends. Returns its block count.</summary>
    private static int Seed(Emulator emulator)
    {
        var vm = emulator.CreateVm(new VmDefinition(VmName, "host-b", "microvm", 16L * 1024 * 1024) { Start = true });
        for (var i = 0; i < Backends; i++)
        {
            vm.AddMemoryBackend($"mem{i:D5}", 4096);
        }

        return vm.RamBlocks.Length;
    }

    private static async Task<Marks> OpenAsync(IBrowserContext context)
    {
        var page = await context.NewPageAsync();
        try
        {
            await page.GotoAsync($"/vms/{VmName}", new PageGotoOptions { WaitUntil = WaitUntilState.Commit });
            await page.WaitForFunctionAsync("() => window.__vmcMarks && window.__vmcMarks.done");
            var json = await page.EvaluateAsync<JsonElement>(
                """
                () => {
                  const n = performance.getEntriesByType('navigation')[0];
                  const m = window.__vmcMarks;
                  return { firstRow: m.firstRow, firstRows: m.firstRows, count: m.count, full: m.full, interactive: m.interactive,
                           requestStart: n.requestStart, responseStart: n.responseStart, responseEnd: n.responseEnd, htmlBytes: n.transferSize };
                }
                """);
            return new Marks(
                json.GetProperty("firstRow").GetDouble(), json.GetProperty("firstRows").GetInt32(), json.GetProperty("count").GetDouble(),
                json.GetProperty("full").GetDouble(), json.GetProperty("interactive").GetDouble(),
                json.GetProperty("requestStart").GetDouble(), json.GetProperty("responseStart").GetDouble(), json.GetProperty("responseEnd").GetDouble(),
                json.GetProperty("htmlBytes").GetDouble());
        }
        finally
        {
            // Leaving the page lets Blazor tell the server to end the circuit now rather than keep it for minutes.
            await page.GotoAsync("about:blank");
            await page.CloseAsync();
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN
            : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2]
            : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private sealed record Marks(
        double FirstRow, int FirstRows, double Count, double Full, double Interactive, double RequestStart, double ResponseStart, double ResponseEnd, double HtmlBytes);

    // Runs before the page's own scripts. A condition seen in a DOM mutation is stamped in the next animation frame,
    // when the browser is about to paint it (stylesheets that block rendering hold that frame back, as they should).
    private const string MarkScript =
        """
        (() => {
          const marks = window.__vmcMarks = {};
          const stamp = (name) => {
            if (marks[name] !== undefined || marks['_' + name]) return;
            marks['_' + name] = true;
            requestAnimationFrame(() => {
              marks[name] = performance.now();
              if (name === 'firstRow') marks.firstRows = document.querySelectorAll("[data-testid='ramblock-table'] tbody td[data-idstr]").length;
              marks.done = ['firstRow', 'count', 'full', 'interactive'].every(m => marks[m] !== undefined);
            });
          };
          const check = () => {
            if (!marks._firstRow) {
              const cell = document.querySelector("[data-testid='ramblock-table'] tbody td[data-idstr]");
              if (cell && cell.getClientRects().length > 0) stamp('firstRow');
            }
            if (!marks._count) {
              const toolbar = document.querySelector("[data-testid='add-backend']")?.closest('.mud-toolbar');
              if (toolbar && toolbar.textContent.includes('__COUNT__')) stamp('count');
            }
            if (!marks._full) {
              // Virtualised, the scroll range stands for every block (a spacer for those not rendered): at least 10 px each.
              const scroller = document.querySelector("[data-testid='ramblock-table'] .mud-table-container");
              if (scroller && scroller.scrollHeight >= __BLOCKS__ * 10) stamp('full');
            }
            if (!marks._interactive && document.querySelector("[data-interactive='true']")) stamp('interactive');
          };
          new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
        })();
        """;
}
