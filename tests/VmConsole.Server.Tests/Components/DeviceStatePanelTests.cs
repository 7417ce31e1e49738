using Bunit;
using VmConsole.Emulation.Vms;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

public sealed class DeviceStatePanelTests : ConsoleComponentContext
{
    [Fact]
    public void VmPage_VmMadeHere_SaysItCarriesNoDeviceStateAndQemuBootsItFromReset()
    {
        RenderProviders();
        CreateVm("vm1");

        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        var panel = cut.Find("[data-testid='device-state']");
        Assert.Equal("false", panel.GetAttribute("data-carried"));
        Assert.Contains("carries no CPU or device state", panel.TextContent, StringComparison.Ordinal);
        Assert.Contains("QEMU boots it from reset", panel.TextContent, StringComparison.Ordinal);
        Assert.Empty(panel.QuerySelectorAll("tr[data-section]"));
    }

    [Fact]
    public void VmPage_DeviceStateFromQemu_ListsEachSectionInOrderWithInstanceVersionAndBytes()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        vm.SetDeviceState(new DeviceState(
            [new DeviceSection("timer", 0, 2, new byte[25], """{"name":"timer"}"""), new DeviceSection("cpu", 1, 12, new byte[4_321], """{"name":"cpu"}""")],
            """{"page_size":4096}"""));

        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("[data-testid='device-state']").GetAttribute("data-carried")));
        var panel = cut.Find("[data-testid='device-state']");
        Assert.Contains("sends them back when the VM goes to QEMU", panel.TextContent, StringComparison.Ordinal);
        Assert.Contains("2 sections", panel.TextContent, StringComparison.Ordinal);
        Assert.Equal(["timer", "cpu"], panel.QuerySelectorAll("tr[data-section]").Select(r => r.GetAttribute("data-section")));
        Assert.Equal(["cpu", "1", "12", "4,321"], panel.QuerySelectorAll("tr[data-section='cpu'] td").Select(td => td.TextContent.Trim()));
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
