using Bunit;
using VmConsole.Emulation.Vms;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

public sealed class DeviceStatePanelTests : ConsoleComponentContext
{
    [Fact]
    public void VmPage_VmMadeHere_ShowsNoDeviceStatePanel()
    {
        RenderProviders();
        CreateVm("vm1");

        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        Assert.Empty(cut.FindAll("[data-testid='not-imported']"));
    }

    [Fact]
    public void VmPage_ImportedWithSkippedSections_ListsEachWithInstanceVersionAndBytes()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        vm.SetNotImportedDeviceState([new NotImportedDeviceSection("timer", 0, 2, 25), new NotImportedDeviceSection("cpu", 1, 12, 4_321)]);

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid='not-imported']")));
        var panel = cut.Find("[data-testid='not-imported']");
        Assert.Contains("these devices, which VmConsole does not model", panel.TextContent, StringComparison.Ordinal);
        Assert.Contains("2 sections", panel.TextContent, StringComparison.Ordinal);
        var cells = panel.QuerySelectorAll("tr[data-section='cpu'] td").Select(td => td.TextContent.Trim()).ToArray();
        Assert.Equal(["cpu", "1", "12", "4,321"], cells);
        Assert.Equal(["timer", "0", "2", "25"], panel.QuerySelectorAll("tr[data-section='timer'] td").Select(td => td.TextContent.Trim()));
    }

    [Fact]
    public void VmPage_ExportAction_PostsToTheExportRouteAndNamesTheQemuCommand()
    {
        var popovers = RenderProviders();
        CreateVm("vm1", machine: "microvm", memoryMiB: 16);
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        cut.Find("[data-testid='export-form'] .mud-tooltip-root").PointerEnter();

        popovers.WaitForAssertion(() => Assert.Contains(
            "qemu-system-x86_64 -M microvm -m 16M -incoming defer, then in its monitor: migrate-incoming exec:cat FILE", popovers.Markup, StringComparison.Ordinal));
        var form = cut.Find("[data-testid='export-form']");
        Assert.Equal("post", form.GetAttribute("method"));
        Assert.Equal("api/vms/vm1/export", form.GetAttribute("action"));
        Assert.False(cut.Find("[data-testid='export-button']").IsDisabled());
    }
}
