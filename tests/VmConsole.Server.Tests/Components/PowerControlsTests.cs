using Bunit;
using MudBlazor;
using VmConsole.Migration.Engine;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
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
    public void PowerControls_ClickPauseAndConfirm_PausesTheVm()
    {
        RenderProviders();
        var dialogs = Render<MudDialogProvider>();
        var vm = CreateVm("vm1");
        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));

        cut.Find("[data-action='pause']").Click();
        dialogs.WaitForAssertion(() => Assert.Contains("guest stops running until you resume it", dialogs.Find("[data-testid='confirm-message']").TextContent, StringComparison.Ordinal));
        Assert.Equal(RunState.Running, vm.RunState);
        dialogs.Find("[data-testid='confirm-yes']").Click();

        cut.WaitForAssertion(() => Assert.Equal(RunState.Paused, vm.RunState));
        cut.WaitForAssertion(() => Assert.False(cut.Find("[data-action='resume']").HasAttribute("disabled")));
    }

    [Theory]
    [InlineData("shutdown")]
    [InlineData("reset")]
    [InlineData("pause")]
    public void PowerControls_CancelInTheConfirmation_DoesNothing(string action)
    {
        RenderProviders();
        var dialogs = Render<MudDialogProvider>();
        var vm = CreateVm("vm1");
        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));

        cut.Find($"[data-action='{action}']").Click();
        dialogs.WaitForAssertion(() => dialogs.Find("[data-testid='confirm-cancel']"));
        Assert.Empty(dialogs.FindAll("[data-testid='confirm-warning']"));
        dialogs.Find("[data-testid='confirm-cancel']").Click();

        dialogs.WaitForAssertion(() => Assert.Empty(dialogs.FindAll("[data-testid='confirm-dialog']")));
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.Empty(ActionLog.Lines);
    }

    [Fact]
    public void PowerControls_ConfirmShutdown_ShutsTheVmDown()
    {
        RenderProviders();
        var dialogs = Render<MudDialogProvider>();
        var vm = CreateVm("vm1");
        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));

        cut.Find("[data-action='shutdown']").Click();
        dialogs.WaitForAssertion(() => Assert.Equal("Shut down", dialogs.Find("[data-testid='confirm-yes']").TextContent.Trim()));
        dialogs.Find("[data-testid='confirm-yes']").Click();

        cut.WaitForAssertion(() => Assert.Equal(RunState.Shutdown, vm.RunState));
        Assert.Equal("Shut down vm1", Assert.Single(ActionLog.Lines).Action);
    }

    [Fact]
    public void PowerControls_Start_DoesNotAsk()
    {
        RenderProviders();
        var dialogs = Render<MudDialogProvider>();
        var vm = CreateVm("vm1", start: false);
        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));

        cut.Find("[data-action='start']").Click();

        cut.WaitForAssertion(() => Assert.Equal(RunState.Running, vm.RunState));
        Assert.Empty(dialogs.FindAll("[data-testid='confirm-dialog']"));
    }

    [Fact]
    public async Task PowerControls_ShutdownWhileMigrating_WarnsThatItCancelsTheMigrationThenDoesBoth()
    {
        RenderProviders();
        var dialogs = Render<MudDialogProvider>();
        Emulator.AddHost("host-b", 8 * VmConsole.Emulation.Sizes.GiB);
        var vm = CreateVm("vm1", memoryMiB: 32);
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true } });
        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));

        cut.Find("[data-action='shutdown']").Click();

        dialogs.WaitForAssertion(() => Assert.Contains(
            $"vm1 is migrating to host-b (migration {migration.Id} is ", dialogs.Find("[data-testid='confirm-warning']").TextContent, StringComparison.Ordinal));
        var warning = dialogs.Find("[data-testid='confirm-warning']");
        Assert.Contains("shutting it down cancels the migration first", warning.TextContent, StringComparison.Ordinal);
        Assert.Contains("mud-alert-text-warning", warning.ClassName, StringComparison.Ordinal);
        Assert.Equal("Cancel the migration and shut down", dialogs.Find("[data-testid='confirm-yes']").TextContent.Trim());
        dialogs.Find("[data-testid='confirm-yes']").Click();

        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(VmConsole.Emulation.MigrationStatus.Cancelled, migration.Status);
        cut.WaitForAssertion(() => Assert.Equal(RunState.Shutdown, vm.RunState));
    }

    [Fact]
    public void PowerControls_PauseWhileMigrating_SaysTheMigrationGoesOn()
    {
        RenderProviders();
        var dialogs = Render<MudDialogProvider>();
        Emulator.AddHost("host-b", 8 * VmConsole.Emulation.Sizes.GiB);
        var vm = CreateVm("vm1", memoryMiB: 32);
        vm.SetWorkload(new WorkloadSpec(WorkloadKind.Uniform, 2_000));

        // It dirties 8 MiB/s and may send 1 MiB/s: it stays active (at pre-switchover the guest would be stopped).
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = VmConsole.Emulation.Sizes.MiB } });
        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));

        cut.Find("[data-action='pause']").Click();

        dialogs.WaitForAssertion(() => Assert.Contains(
            "pausing does not stop the migration; the VM stays paused, on host-b once it has arrived", dialogs.Find("[data-testid='confirm-warning']").TextContent, StringComparison.Ordinal));
        dialogs.Find("[data-testid='confirm-cancel']").Click();
        dialogs.WaitForAssertion(() => Assert.Empty(dialogs.FindAll("[data-testid='confirm-dialog']")));
        Assert.Equal(RunState.Running, vm.RunState);
        migration.Cancel();
    }

    [Fact]
    public void PowerControls_ActionRefusedByTheVm_ShowsTheRefusalOnce()
    {
        RenderProviders();
        var dialogs = Render<MudDialogProvider>();
        var vm = CreateVm("vm1");
        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));
        vm.Pause();

        // The page has not re-rendered yet: Pause still looks possible, and the VM says no.
        cut.Find("[data-action='pause']").Click();
        dialogs.WaitForAssertion(() => dialogs.Find("[data-testid='confirm-yes']"));
        dialogs.Find("[data-testid='confirm-yes']").Click();

        cut.WaitForAssertion(() =>
        {
            var alert = cut.Find(".mud-alert");
            Assert.Contains("Cannot pause VM 'vm1' while it is paused", alert.TextContent, StringComparison.Ordinal);
        });
        Assert.Single(cut.FindAll(".mud-alert"));
        Assert.DoesNotContain("Cannot pause", Snackbars.Markup, StringComparison.Ordinal);
        Assert.Equal(RunState.Paused, vm.RunState);
    }

    [Fact]
    public async Task PowerControls_SourceInFinishMigrate_OnlyShutdownStaysEnabled()
    {
        RenderProviders();
        Emulator.AddHost("host-b", 8 * VmConsole.Emulation.Sizes.GiB);
        var vm = CreateVm("vm1", memoryMiB: 32);
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true } });
        await Eventually.Until(() => migration.Status == VmConsole.Emulation.MigrationStatus.PreSwitchover, TimeSpan.FromSeconds(20), () => $"{migration.Status}");

        var cut = Render<PowerControls>(p => p.Add(c => c.Vm, vm));

        Assert.Equal(RunState.FinishMigrate, vm.RunState);
        foreach (var action in new[] { "start", "pause", "resume", "reset" })
        {
            Assert.True(cut.Find($"[data-action='{action}']").HasAttribute("disabled"), action);
        }

        Assert.False(cut.Find("[data-action='shutdown']").HasAttribute("disabled"));
        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(RunState.Running, vm.RunState);

        // The page above re-renders the controls on the VM's changes.
        cut.Render();
        Assert.False(cut.Find("[data-action='pause']").HasAttribute("disabled"));
    }
}
