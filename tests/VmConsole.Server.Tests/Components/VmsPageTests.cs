using Bunit;
using MudBlazor;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Server.Accounts;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

public sealed class VmsPageTests : ConsoleComponentContext
{
    public VmsPageTests()
    {
        // Four VMs that differ in one field each: the search must find each by that field alone.
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        CreateVm("db-1", machine: "q35");
        Emulator.CreateVm(new VmDefinition("web-1", "host-b", "pc", 64 * Sizes.MiB) { Start = true });
        CreateVm("edge-1", machine: "microvm");
        CreateVm("cache-1", machine: "q35").Pause();
    }

    [Fact]
    public void VmsPage_FourVms_ListsEachWithItsStateChip()
    {
        RenderProviders();

        var cut = Render<VmsPage>();

        Assert.Equal(["cache-1", "db-1", "edge-1", "web-1"], ListedVms(cut).Order());
        Assert.Equal("running", StateOf(cut, "db-1"));
        Assert.Equal("running", StateOf(cut, "web-1"));
        Assert.Equal("paused", StateOf(cut, "cache-1"));
    }

    [Fact]
    public void VmsPage_NarrowScreen_DropsMachineAndWorkloadColumnsButNeverActions()
    {
        RenderProviders();

        var cut = Render<VmsPage>();

        // app.css hides .vmc-wide-only below 1280 px; the header cell and every body cell of a column carry it together.
        Assert.Collection(
            NarrowHidden(cut.FindAll("[data-testid='vms-grid'] thead th")),
            header => Assert.StartsWith("Machine", header.TextContent.Trim(), StringComparison.Ordinal),
            header => Assert.StartsWith("Workload / guest", header.TextContent.Trim(), StringComparison.Ordinal));
        var row = cut.FindAll("tr.vmc-vm-row").First();
        Assert.Equal(2, NarrowHidden(row.QuerySelectorAll("td")).Count());
        Assert.All(row.QuerySelectorAll("[data-action]"), action => Assert.Null(action.Closest(".vmc-wide-only")));
        Assert.NotEmpty(row.QuerySelectorAll("[data-action='delete']"));
    }

    private static IEnumerable<AngleSharp.Dom.IElement> NarrowHidden(IEnumerable<AngleSharp.Dom.IElement> cells) =>
        cells.Where(c => c.ClassList.Contains("vmc-wide-only"));

    [Theory]
    [InlineData("db", "db-1")]
    [InlineData("HOST-B", "web-1")]
    [InlineData("microvm", "edge-1")]
    [InlineData("paused", "cache-1")]
    public void VmsPage_Search_KeepsOnlyTheMatchingVm(string search, string expected)
    {
        RenderProviders();
        var cut = Render<VmsPage>();

        cut.Find("[data-testid='vms-search']").Input(search);

        cut.WaitForAssertion(() => Assert.Equal([expected], ListedVms(cut)));
    }

    [Fact]
    public void VmsPage_SearchWithoutMatch_SaysSo()
    {
        RenderProviders();
        var cut = Render<VmsPage>();

        cut.Find("[data-testid='vms-search']").Input("nothing-like-this");

        cut.WaitForAssertion(() => Assert.Contains("No VM matches 'nothing-like-this'.", cut.Markup, StringComparison.Ordinal));
        Assert.Empty(ListedVms(cut));
    }

    [Fact]
    public void VmsPage_PauseFromARow_PausesThatVmAndItsChipFollows()
    {
        RenderProviders();
        var dialogs = Render<MudDialogProvider>();
        var cut = Render<VmsPage>();

        Row(cut, "db-1").QuerySelector("[data-action='pause']")!.Click();
        dialogs.WaitForAssertion(() => dialogs.Find("[data-testid='confirm-yes']"));
        dialogs.Find("[data-testid='confirm-yes']").Click();

        cut.WaitForAssertion(() => Assert.Equal(RunState.Paused, Emulator.GetVm("db-1").RunState));
        cut.WaitForAssertion(() => Assert.Equal("paused", StateOf(cut, "db-1")));
        Assert.Equal(RunState.Running, Emulator.GetVm("edge-1").RunState);
    }

    [Fact]
    public void VmsPage_Admin_MayCreateAVm()
    {
        RenderProviders();

        var cut = Render<VmsPage>();

        Assert.False(cut.Find("[data-testid='create-vm']").IsDisabled());
    }

    [Fact]
    public void VmsPage_Viewer_CannotCreateDeleteOrPower()
    {
        Authorization.SetRoles(Roles.Viewer);
        RenderProviders();

        var cut = Render<VmsPage>();

        Assert.True(cut.Find("[data-testid='create-vm']").IsDisabled());
        Assert.All(cut.FindAll("[data-action='delete']"), b => Assert.True(b.IsDisabled()));
        Assert.True(Row(cut, "db-1").QuerySelector("[data-action='pause']")!.IsDisabled());
    }

    internal static List<string> ListedVms(IRenderedComponent<VmsPage> cut) =>
        [.. cut.FindAll("tr.vmc-vm-row [data-vm]").Select(a => a.GetAttribute("data-vm")!)];

    internal static AngleSharp.Dom.IElement Row(IRenderedComponent<VmsPage> cut, string vm) =>
        cut.Find($"tr.vmc-vm-row [data-vm='{vm}']").Closest("tr")!;

    internal static string? StateOf(IRenderedComponent<VmsPage> cut, string vm) =>
        Row(cut, vm).QuerySelector("[data-state]")?.GetAttribute("data-state");
}

/// <summary>The page's live renders wait on a clock that does not move, so the test decides what the page has seen.</summary>
public sealed class VmsPageRefusalTests : ConsoleComponentContext
{
    protected override void AddServices(IServiceCollection services) => services.AddSingleton<TimeProvider>(new FakeTimeProvider());

    [Fact]
    public async Task VmsPage_VmRefusesTheAction_ShowsTheRefusal()
    {
        RenderProviders();
        var dialogs = Render<MudDialogProvider>();
        var vm = CreateVm("db-1");
        CreateVm("web-1");
        var cut = Render<VmsPage>();

        // The first live render is immediate; after it the page renders again only when the clock moves, which it does not.
        Emulator.GetVm("web-1").Pause();
        cut.WaitForAssertion(() => Assert.Equal("paused", VmsPageTests.StateOf(cut, "web-1")));

        // Rendered once more through its parameters (not the clock), so that the test holds the page as it is now.
        cut.Render();
        vm.Pause();

        // The page still shows db-1 running with Pause enabled; the VM says no. Found and clicked on the renderer's
        // context, so that no render of a child can come between the two.
        await cut.InvokeAsync(() => VmsPageTests.Row(cut, "db-1").QuerySelector("[data-action='pause']")!.Click());
        dialogs.WaitForAssertion(() => dialogs.Find("[data-testid='confirm-yes']"));
        dialogs.Find("[data-testid='confirm-yes']").Click();

        cut.WaitForAssertion(() => Assert.Contains("Cannot pause VM 'db-1' while it is paused", cut.Find("[data-testid='vms-error']").TextContent, StringComparison.Ordinal));
        Assert.Equal(RunState.Paused, vm.RunState);
        Assert.Contains(ActionLog.Lines, l => l is { Action: "Paused db-1", Target: "db-1", Code: "illegal-power-transition" });
    }
}
