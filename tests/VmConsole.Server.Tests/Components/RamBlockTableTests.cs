using Bunit;
using Microsoft.Extensions.Time.Testing;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

public sealed class RamBlockTableTests : ConsoleComponentContext
{
    private readonly FakeTimeProvider _clock;

    public RamBlockTableTests()
        : this(new FakeTimeProvider())
    {
    }

    private RamBlockTableTests(FakeTimeProvider clock)
        : base(clock) => _clock = clock;

    [Fact]
    public void RamBlockTable_Q35WithBackend_ShowsEveryBlockWithHexOffsetsAndFlags()
    {
        RenderProviders();
        var vm = CreateVm("vm1", slots: 2, maxMemMiB: 256);
        vm.AddMemoryBackend("mem1", 32 * VmConsole.Emulation.Sizes.MiB);

        var cut = Render<RamBlockTable>(p => p.Add(t => t.Blocks, Rows(vm)));

        var rows = cut.FindAll("tbody tr");
        Assert.Equal(vm.RamBlocks.Length, rows.Count);
        var ram = rows.Single(r => r.QuerySelector("[data-idstr='pc.ram']") is not null);
        Assert.Contains("0x0000000000000000", ram.TextContent, StringComparison.Ordinal);
        Assert.Contains("64 MiB", ram.TextContent, StringComparison.Ordinal);
        Assert.Contains("migratable", ram.TextContent, StringComparison.Ordinal);
        Assert.Contains("guest-visible", ram.TextContent, StringComparison.Ordinal);
        var tables = rows.Single(r => r.QuerySelector("[data-idstr='/rom@etc/acpi/tables']") is not null);
        Assert.Contains("resizeable", tables.TextContent, StringComparison.Ordinal);
        Assert.Contains("ROM", tables.TextContent, StringComparison.Ordinal);
        Assert.Contains("128 KiB", tables.TextContent, StringComparison.Ordinal);
        Assert.Contains("2 MiB", tables.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void RamBlockTable_NarrowScreen_DropsOffsetAndPageSizeButNeverActions()
    {
        RenderProviders();
        var vm = CreateVm("vm1");

        var cut = Render<RamBlockTable>(p => p.Add(t => t.Blocks, Rows(vm)).Add(t => t.Vm, vm).Add(t => t.Emulated, vm).Add(t => t.CanChange, true));

        // app.css hides .vmc-wide-only below 1280 px; the header cell and every body cell of a column carry it together.
        Assert.Equal(["Offset", "Page size"], cut.FindAll("thead th.vmc-wide-only").Select(h => h.TextContent.Trim()));
        foreach (var row in cut.FindAll("tbody tr"))
        {
            Assert.Equal(2, row.QuerySelectorAll("td.vmc-wide-only").Length);
            var actions = row.QuerySelectorAll("td").Last();
            Assert.NotEmpty(actions.QuerySelectorAll("button"));
            Assert.False(actions.ClassList.Contains("vmc-wide-only"));
        }
    }

    [Fact]
    public void RamBlockTable_UnpluggedBackend_IsNamedByBackendIdAndNotMigratable()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var backend = vm.AddMemoryBackend("spare0", 16 * VmConsole.Emulation.Sizes.MiB);

        var cut = Render<RamBlockTable>(p => p.Add(t => t.Blocks, Rows(vm)));

        var row = cut.Find("[data-backend='spare0']").ParentElement!;
        Assert.Equal("", backend.IdStr);
        Assert.Contains("spare0", cut.Find("[data-backend='spare0'] .vmc-backend-name").TextContent, StringComparison.Ordinal);
        Assert.Contains("not migratable", row.TextContent, StringComparison.Ordinal);
        Assert.Contains("unplugged backend", row.TextContent, StringComparison.Ordinal);
        Assert.Contains("vmc-muted", row.ClassName, StringComparison.Ordinal);
    }

    [Fact]
    public void RamBlockTable_DirtyRate_ShowsTheSampledRate()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var page = new byte[4096];
        for (var i = 0; i < 300; i++)
        {
            page[0] = 1;
            vm.MainRam.Write(i * 4096L, page);
        }

        _clock.Advance(TimeSpan.FromSeconds(2));
        vm.SampleDirtyRate();

        var cut = Render<RamBlockTable>(p => p.Add(t => t.Blocks, Rows(vm)));

        // 300 pages over the 2 s the emulator's clock moved.
        var rate = cut.Find("[data-idstr='pc.ram']").ParentElement!.QuerySelector("[data-dirty-rate]")!.TextContent;
        Assert.Equal(150, double.Parse(rate.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void RamBlockTable_TwoThousandBackends_RendersOnlyAWindowOfRows()
    {
        RenderProviders();
        // 2,000, not 10,000: AddMemoryBackend is cubic overall (RamAddressAllocator.FindOffset is quadratic per block),
        // so 10,000 backends take minutes to create; 2,000 take seconds and are 20 times the virtualization threshold.
        var vm = CreateVmWithBackends(2_000);

        Assert.True(vm.RamBlocks.Length > 2_000);

        var cut = Render<RamBlockTable>(p => p.Add(t => t.Blocks, Rows(vm)));

        var rows = cut.FindAll("tbody tr");
        Assert.InRange(rows.Count, 1, 200);
        Assert.NotNull(cut.Find("[data-idstr='pc.ram']"));
        Assert.Empty(cut.FindAll("[data-backend='b1999']"));
    }

    [Fact]
    public void RamBlockTable_LargeTablePrerendered_RendersTheFirstScreenfulOfRowsInOrder()
    {
        SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Static", isInteractive: false));
        RenderProviders();
        var vm = CreateVmWithBackends(2 * RamBlockTable.VirtualizeAbove);

        var cut = Render<RamBlockTable>(p => p.Add(t => t.Blocks, Rows(vm)));

        // Virtualize would render no row before the browser measures; the prerendered page shows the first ones.
        var rows = cut.FindAll("tbody tr");
        Assert.Equal(RamBlockTable.PrerenderedRows, rows.Count);
        var shown = rows.Select(r => r.QuerySelector("[data-idstr]")!).Select(c => c.GetAttribute("data-idstr") is { Length: > 0 } idStr ? idStr : c.GetAttribute("data-backend")).ToList();
        var expected = vm.RamBlocks.Take(RamBlockTable.PrerenderedRows).Select(b => b.IdStr.Length > 0 ? b.IdStr : b.BackendId).ToList();
        Assert.Equal(expected, shown);
        Assert.Empty(cut.FindAll($"[data-backend='b{(2 * RamBlockTable.VirtualizeAbove) - 1}']"));
    }

    [Fact]
    public void RamBlockTable_LargeTableBeforeTheBrowserMeasured_ShowsTheFirstRowsOverTheEmptyVirtualizedTable()
    {
        // The browser never answers Virtualize's first call, so it never learns its viewport and renders no row.
        JSInterop.SetupVoid("Blazor._internal.Virtualize.init", _ => true);
        RenderProviders();
        var vm = CreateVmWithBackends(2 * RamBlockTable.VirtualizeAbove);

        var cut = Render<RamBlockTable>(p => p.Add(t => t.Blocks, Rows(vm)));

        // What was prerendered stays on screen: the first rows, laid over the table that has none yet.
        var firstRows = cut.Find("[data-first-rows]");
        Assert.Equal(RamBlockTable.PrerenderedRows, firstRows.QuerySelectorAll("tbody tr").Length);
        Assert.Equal(RamBlockTable.PrerenderedRows, cut.FindAll("tbody tr").Count);
    }

    [Fact]
    public void RamBlockTable_LargeTableOnceVirtualizeRendersRows_DropsTheFirstRowsLaidOverIt()
    {
        RenderProviders();
        var vm = CreateVmWithBackends(2 * RamBlockTable.VirtualizeAbove);

        // bUnit answers Virtualize's measurement at once, as a browser would a moment after the first render.
        var cut = Render<RamBlockTable>(p => p.Add(t => t.Blocks, Rows(vm)));

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-first-rows]")));
        Assert.Single(cut.FindAll(".mud-table"));
        Assert.NotEmpty(cut.FindAll("tbody tr"));
        Assert.NotNull(cut.Find("[data-idstr='pc.ram']"));
    }

    /// <summary>VM "vm1" with <paramref name="count"/> 4 KiB memory backends (b0, b1, ...) besides its machine's blocks.</summary>
    private VmConsole.Emulation.Vms.Vm CreateVmWithBackends(int count)
    {
        var vm = CreateVm("vm1");
        for (var i = 0; i < count; i++)
        {
            vm.AddMemoryBackend($"b{i}", 4 * VmConsole.Emulation.Sizes.KiB);
        }

        return vm;
    }

    /// <summary>The table's rows as the page gives them: the emulated VM's blocks through the face every driver fills.</summary>
    private static IReadOnlyList<VmConsole.Emulation.Drivers.RamBlockRow> Rows(VmConsole.Emulation.Vms.Vm vm) => [.. vm.RamBlocks.Select(vm.ToRow)];
}
