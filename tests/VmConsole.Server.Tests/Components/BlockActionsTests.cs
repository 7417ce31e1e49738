using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

public sealed class BlockActionsTests : ConsoleComponentContext
{
    [Fact]
    public void BlockActions_WhileAMigrationHoldsTheFreeze_AreDisabledWithTheReasonAndALinkToTheMigration()
    {
        var popovers = RenderProviders();
        var vm = CreateVm("vm1");
        using var lease = vm.Freeze.Acquire(new Holder("mig-7", MigrationStatus.Active));
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        var row = cut.Find("[data-idstr='pc.ram']").ParentElement!;
        var toggle = row.QuerySelector("[data-action='toggle-migratable']")!;
        Assert.True(toggle.IsDisabled());
        Assert.Equal("mig-7", toggle.GetAttribute("data-locked"));
        Assert.Equal("migrations/mig-7", row.QuerySelector("a[data-testid='lock-icon']")!.GetAttribute("href"));

        toggle.Closest(".mud-tooltip-root")!.PointerEnter();

        popovers.WaitForAssertion(() => Assert.Contains(
            "Locked while migration mig-7 is active: unset migratable would change the set of migratable RAM blocks, which is frozen until it ends.",
            popovers.Markup, StringComparison.Ordinal));
        Assert.True(vm.MainRam.Migratable);
        Assert.Empty(ActionLog.Lines);
    }

    [Fact]
    public void BlockActions_FreezeReleased_AreEnabledAgain()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var lease = vm.Freeze.Acquire(new Holder("mig-9", MigrationStatus.Active));
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));
        Assert.True(Toggle(cut, "pc.ram").IsDisabled());

        lease.Dispose();

        cut.WaitForAssertion(() => Assert.False(Toggle(cut, "pc.ram").IsDisabled()));
        Assert.Null(Toggle(cut, "pc.ram").GetAttribute("data-locked"));
        Assert.Empty(cut.FindAll("[data-testid='lock-icon']"));
    }

    [Fact]
    public void BlockActions_FrozenBackendNoDeviceUses_FreeStaysEnabledPlugIsLocked()
    {
        RenderProviders();
        var provider = Render<MudDialogProvider>();
        var vm = CreateVm("vm1");
        using var lease = vm.Freeze.Acquire(new Holder("mig-8", MigrationStatus.Active));
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));
        Assert.False(cut.Find("[data-testid='add-backend']").IsDisabled());

        cut.Find("[data-testid='add-backend']").Click();
        provider.WaitForAssertion(() => provider.Find("[data-testid='add-backend-submit']"));
        provider.Find(".vmc-backend-id input").Input("extra0");
        provider.Find("[data-testid='add-backend-submit']").Click();

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-backend='extra0']")));
        var row = cut.Find("[data-backend='extra0']").ParentElement!;
        Assert.False(row.QuerySelector("[data-action='free']")!.IsDisabled());
        Assert.Null(row.QuerySelector("[data-action='free']")!.GetAttribute("data-locked"));
        Assert.True(row.QuerySelector("[data-action='plug']")!.IsDisabled());
        Assert.Equal("mig-8", row.QuerySelector("[data-action='plug']")!.GetAttribute("data-locked"));
        Assert.Equal(64 * Sizes.MiB, vm.RamBlocks.Single(b => b.BackendId == "extra0").UsedLength);
    }

    [Fact]
    public void UnsetMigratable_NoMigration_IsDoneAndLogged()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        cut.Find("[data-idstr='pc.ram']").ParentElement!.QuerySelector("[data-action='toggle-migratable']")!.Click();

        cut.WaitForAssertion(() => Assert.False(vm.MainRam.Migratable));
        Assert.Empty(cut.FindAll("[data-testid='refusal']"));
        Assert.Equal("Made pc.ram of vm1 not migratable", Assert.Single(ActionLog.Lines).Action);
    }

    private static AngleSharp.Dom.IElement Toggle(IRenderedComponent<VmPage> cut, string idStr) =>
        cut.Find($"[data-idstr='{idStr}']").ParentElement!.QuerySelector("[data-action='toggle-migratable']")!;

    internal sealed class Holder(string id, MigrationStatus status) : IMigrationLeaseHolder
    {
        public string MigrationId => id;

        public MigrationStatus Status => status;

        public void RequestCancel(string? error)
        {
        }
    }
}

/// <summary>The page's live renders wait on a clock that does not move, so it can still offer an action a migration that started meanwhile locks.</summary>
public sealed class BlockRefusalTests : ConsoleComponentContext
{
    protected override void AddServices(IServiceCollection services) => services.AddSingleton<TimeProvider>(new FakeTimeProvider());

    [Fact]
    public async Task UnsetMigratable_MigrationStartedSinceTheRender_ShowsTheRefusalOnceInline()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));
        // The first live render is immediate; any after it waits for the clock that does not move.
        vm.AddMemoryBackend("spare", 16 * Sizes.MiB);
        cut.WaitForAssertion(() => Assert.Equal(1, cut.Instance.LiveRenders));
        using var lease = vm.Freeze.Acquire(new BlockActionsTests.Holder("mig-7", MigrationStatus.Active));

        // The page still offers the toggle; the VM says no. Found and clicked in one turn of the renderer.
        await cut.InvokeAsync(() => cut.Find("[data-idstr='pc.ram']").ParentElement!.QuerySelector("[data-action='toggle-migratable']")!.Click());

        cut.WaitForAssertion(() => Assert.Contains("migration mig-7 is active", cut.Find("[data-testid='refusal']").TextContent, StringComparison.Ordinal));
        const string Refusal = "Cannot unset migratable on RAM block 'pc.ram'";
        Assert.Single(cut.FindAll("[data-testid='refusal']"));
        Assert.Equal(1, Count(cut.Markup, Refusal));
        Assert.Equal(0, Count(Snackbars.Markup, Refusal));
        Assert.Empty(Snackbars.FindAll(".mud-snackbar"));
        Assert.True(vm.MainRam.Migratable);
        Assert.Equal(MigratableSetFrozenException.ErrorCode, Assert.Single(ActionLog.Lines).Code);
    }

    private static int Count(string text, string part) => (text.Length - text.Replace(part, "", StringComparison.Ordinal).Length) / part.Length;
}
