using Bunit;
using VmConsole.Emulation;
using VmConsole.Server.Components.Layout;

namespace VmConsole.Server.Tests.Components;

/// <summary>The app bar's count follows the inventory as it changes, without a navigation.</summary>
public sealed class InventorySummaryTests : ConsoleComponentContext
{
    [Fact]
    public async Task InventorySummary_InventoryChanges_CountsFollowLive()
    {
        var cut = Render<InventorySummary>();
        string Text() => cut.Find("[data-testid='inventory-summary']").TextContent;
        Assert.Equal("1 host · 0 VMs", Text());

        CreateVm("vm1");
        cut.WaitForAssertion(() => Assert.Equal("1 host · 1 VM", Text()));

        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        CreateVm("vm2");
        cut.WaitForAssertion(() => Assert.Equal("2 hosts · 2 VMs", Text()));

        var arriving = Emulator.ReserveArriving("from-qemu", "host-b");
        cut.WaitForAssertion(() => Assert.Equal("2 hosts · 2 VMs · 1 arriving", Text()));

        Emulator.ReleaseArriving(arriving);
        await Emulator.DeleteVmAsync("vm1");
        cut.WaitForAssertion(() => Assert.Equal("2 hosts · 1 VM", Text()));
    }
}
