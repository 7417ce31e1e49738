using Bunit;
using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Server.Components.Pages;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

/// <summary>The Create dialog makes a VM with a RAM layout of its own, and a VM's page shows the QEMU command line that accepts it.</summary>
public sealed class CreateVmLayoutTests : ConsoleComponentContext
{
    private IRenderedComponent<MudPopoverProvider> _popovers = null!;

    [Fact]
    public async Task CreateVmDialog_NumaNodes_CreatesTheVmWithOneBlockPerMemdev()
    {
        var (provider, reference) = await ShowDialogAsync();
        provider.Find("[data-testid='vm-name']").Input("numa-2");
        provider.Find("[data-testid='vm-memory']").Input("96");
        provider.Choose(_popovers, "vm-layout", "NUMA nodes (-numa node,memdev=ID)");
        provider.Find("[data-testid='vm-numa']").Input("m0=64, m1=32");

        provider.Find("[data-testid='create-vm-submit']").Click();

        await reference.Result.WaitAsync(TimeSpan.FromSeconds(10));
        var vm = Emulator.GetVm("numa-2");
        Assert.Equal([new NumaNode("m0", 64 * Sizes.MiB), new NumaNode("m1", 32 * Sizes.MiB)], vm.Definition.NumaNodes);
        Assert.Equal(["m0", "m1"], vm.MainRamBlocks.Select(b => b.IdStr));
    }

    [Theory]
    [InlineData("m0=64,m1=64", "The nodes add up to 128 MiB; the memory is 96 MiB.")]
    [InlineData("m0=64,m0=32", "'m0' is used by two nodes.")]
    [InlineData("m0=64,m1", "'m1' is not memdev=MiB.")]
    [InlineData("0m=96", "'0m' is not a valid memdev id.")]
    public async Task CreateVmDialog_BadNumaNodes_ShowsTheRuleAndKeepsCreateDisabled(string nodes, string message)
    {
        var (provider, _) = await ShowDialogAsync();
        provider.Find("[data-testid='vm-name']").Input("numa-3");
        provider.Find("[data-testid='vm-memory']").Input("96");
        provider.Choose(_popovers, "vm-layout", "NUMA nodes (-numa node,memdev=ID)");

        provider.Find("[data-testid='vm-numa']").Input(nodes);

        provider.WaitForAssertion(() => Assert.Equal(message, provider.ErrorOf("vm-numa")));
        Assert.True(provider.Find("[data-testid='create-vm-submit']").IsDisabled());
    }

    [Fact]
    public async Task CreateVmDialog_MainRamBackend_MainBlockNamedAfterIt()
    {
        var (provider, reference) = await ShowDialogAsync();
        provider.Find("[data-testid='vm-name']").Input("mb-2");
        provider.Choose(_popovers, "vm-layout", "a memory backend (-machine memory-backend=ID)");
        provider.Find("[data-testid='vm-main-backend']").Input("ram0");

        provider.Find("[data-testid='create-vm-submit']").Click();

        await reference.Result.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("ram0", Emulator.GetVm("mb-2").MainRam.IdStr);
    }

    [Fact]
    public void VmPage_NumaVmWithADimm_ShowsTheQemuCommandThatAcceptsIt()
    {
        var vm = Emulator.CreateVm(new VmDefinition("numa-4", "host-a", "q35", 96 * Sizes.MiB)
        {
            NumaNodes = [new NumaNode("m0", 64 * Sizes.MiB), new NumaNode("m1", 32 * Sizes.MiB)],
            Slots = 2,
            MaxMemBytes = 256 * Sizes.MiB,
        });
        vm.AddMemoryBackend("d0", 16 * Sizes.MiB);
        vm.PlugDimm("dimm0", "d0");
        RenderProviders();

        var page = Render<VmPage>(p => p.Add(c => c.Name, "numa-4"));

        page.WaitForAssertion(() => Assert.Equal(
            "qemu-system-x86_64 -M q35 -m 96M,slots=2,maxmem=256M -object memory-backend-ram,id=m0,size=64M -object memory-backend-ram,id=m1,size=32M "
            + "-object memory-backend-ram,id=d0,size=16M -numa node,memdev=m0 -numa node,memdev=m1 -device pc-dimm,id=dimm0,memdev=d0 -nodefaults -S -incoming defer",
            page.Find("[data-testid='qemu-accept-command']").TextContent));
        Assert.Contains("2 NUMA nodes on m0, m1", page.Find("[data-testid='qemu-accept']").TextContent, StringComparison.Ordinal);
    }

    private async Task<(IRenderedComponent<MudDialogProvider> Provider, IDialogReference Reference)> ShowDialogAsync()
    {
        _popovers = RenderProviders();
        var provider = Render<MudDialogProvider>();
        var dialogs = (IDialogService)Services.GetService(typeof(IDialogService))!;
        IDialogReference? reference = null;
        await provider.InvokeAsync(async () => reference = await dialogs.ShowAsync<CreateVmDialog>("Create a virtual machine"));
        provider.WaitForAssertion(() => provider.Find("[data-testid='create-vm-submit']"));
        return (provider, reference!);
    }
}
