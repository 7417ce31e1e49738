using Bunit;
using VmConsole.Emulation.Vms;
using VmConsole.Server.Components.Pages;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

public sealed class MemoryInspectorTests : ConsoleComponentContext
{
    [Fact]
    public void MemoryInspector_BytesWrittenInRam_ShowOnTheirLineAtTheirColumn()
    {
        RenderProviders();
        var vm = CreateVm("vm1", memoryMiB: 64);
        vm.FindMigratable("pc.ram")!.Write(0x3_1238, [.. "Hello, QEMU!"u8, 0x01, 0xff]);
        var cut = Render<MemoryInspector>(p => p.Add(c => c.Vm, vm));

        cut.Find("[data-testid='inspector-goto']").Input("0x31238");
        cut.Find("[data-testid='inspector-goto-submit']").Click();

        cut.WaitForAssertion(() => Assert.Contains("page 49 of 16,384", cut.Find("[data-testid='inspector-page']").TextContent, StringComparison.Ordinal));
        var first = cut.Find("[data-offset='0x0000000000031230']");
        Assert.Equal("00031230", first.QuerySelector(".vmc-hex-offset")!.TextContent);
        Assert.Equal("00 00 00 00 00 00 00 00  48 65 6c 6c 6f 2c 20 51", first.QuerySelector(".vmc-hex-bytes")!.TextContent);
        Assert.Equal("........Hello, Q", first.QuerySelector(".vmc-hex-ascii")!.TextContent);
        var second = cut.Find("[data-offset='0x0000000000031240']");
        Assert.Equal("45 4d 55 21 01 ff 00 00  00 00 00 00 00 00 00 00", second.QuerySelector(".vmc-hex-bytes")!.TextContent);
        Assert.Equal("EMU!............", second.QuerySelector(".vmc-hex-ascii")!.TextContent);
        Assert.Equal(256, cut.FindAll(".vmc-hex-line[data-offset]").Count);
    }

    [Fact]
    public void MemoryInspector_NextThenPrevious_MovesOnePageEachWay()
    {
        RenderProviders();
        var vm = CreateVm("vm1", memoryMiB: 64);
        var cut = Render<MemoryInspector>(p => p.Add(c => c.Vm, vm));
        Assert.True(cut.Find("[data-testid='inspector-previous']").IsDisabled());

        cut.Find("[data-testid='inspector-next']").Click();

        Assert.NotNull(cut.Find("[data-offset='0x0000000000001000']"));
        Assert.Empty(cut.FindAll("[data-offset='0x0000000000000000']"));
        cut.Find("[data-testid='inspector-previous']").Click();
        Assert.NotNull(cut.Find("[data-offset='0x0000000000000000']"));
    }

    [Theory]
    [InlineData("0x4000000", "Offset 0x4000000 is past the end of 'pc.ram': its used_length is 0x4000000 (64 MiB).")]
    [InlineData("12z", "Write an offset in the block in hex (0x1f000) or decimal (126976).")]
    [InlineData("-5", "Write an offset in the block in hex (0x1f000) or decimal (126976).")]
    public void MemoryInspector_BadOffset_ShowsTheErrorAndStaysOnThePage(string typed, string message)
    {
        RenderProviders();
        var vm = CreateVm("vm1", memoryMiB: 64);
        var cut = Render<MemoryInspector>(p => p.Add(c => c.Vm, vm));

        cut.Find("[data-testid='inspector-goto']").Input(typed);
        cut.Find("[data-testid='inspector-goto-submit']").Click();

        cut.WaitForAssertion(() => Assert.Equal(message, cut.ErrorOf("inspector-goto")));
        Assert.NotNull(cut.Find("[data-offset='0x0000000000000000']"));
    }

    [Fact]
    public void VmPage_InspectorOpened_ShowsTheHexViewOfTheFirstMigratableBlock()
    {
        RenderProviders();
        var vm = CreateVm("vm1", memoryMiB: 64);
        vm.FindMigratable("pc.ram")!.Write(0, "boot"u8);
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));
        Assert.Empty(cut.FindAll("[data-testid='hex-view']"));

        cut.Find("[data-testid='inspector-toggle']").Click();

        var view = cut.Find("[data-testid='hex-view']");
        Assert.Equal("pc.ram", view.GetAttribute("data-block"));
        Assert.StartsWith("boot", cut.Find("[data-offset='0x0000000000000000'] .vmc-hex-ascii").TextContent, StringComparison.Ordinal);
    }
}
