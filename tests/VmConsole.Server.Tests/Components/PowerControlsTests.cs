using Bunit;
using VmConsole.Emulation.Vms;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

public sealed class PowerControlsTests : ConsoleComponentContext
{
    [Fact]
    public void PowerControls_RunningVm_EnablesOnlyLegalActions()
    {
        RenderProviders();
        var vm = CreateVm("vm1");

        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));

        Assert.True(cut.Find("[data-action='start']").HasAttribute("disabled"));
        Assert.True(cut.Find("[data-action='resume']").HasAttribute("disabled"));
        Assert.False(cut.Find("[data-action='pause']").HasAttribute("disabled"));
        Assert.False(cut.Find("[data-action='shutdown']").HasAttribute("disabled"));
    }

    [Fact]
    public void PowerControls_Prerendered_DisablesEveryActionUntilInteractive()
    {
        SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Static", isInteractive: false));
        var vm = CreateVm("vm1");

        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));

        Assert.All(cut.FindAll("[data-action]"), button => Assert.True(button.HasAttribute("disabled")));
    }

    [Fact]
    public void PowerControls_ClickPause_PausesTheVm()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));

        cut.Find("[data-action='pause']").Click();

        cut.WaitForAssertion(() => Assert.Equal(RunState.Paused, vm.RunState));
        cut.WaitForAssertion(() => Assert.False(cut.Find("[data-action='resume']").HasAttribute("disabled")));
    }

    [Fact]
    public void PowerControls_ActionRefusedByTheVm_ShowsTheRefusal()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));
        vm.Pause();

        // The page has not re-rendered yet: Pause still looks possible, and the VM says no.
        cut.Find("[data-action='pause']").Click();

        cut.WaitForAssertion(() =>
        {
            var alert = cut.Find(".mud-alert");
            Assert.Contains("Cannot pause VM 'vm1' while it is paused", alert.TextContent, StringComparison.Ordinal);
        });
        Assert.Equal(RunState.Paused, vm.RunState);
    }
}
