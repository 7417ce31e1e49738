using Bunit;
using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

public sealed class BlockActionsTests : ConsoleComponentContext
{
    [Fact]
    public void UnsetMigratable_WhileAMigrationHoldsTheFreeze_ShowsTheRefusalNamingBlockOperationAndMigration()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        using var lease = vm.Freeze.Acquire(new Holder("mig-7", MigrationStatus.Active));
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));
        Assert.NotEmpty(cut.FindAll("[data-testid='lock-icon']"));

        cut.Find("[data-idstr='pc.ram']").ParentElement!.QuerySelector("[data-action='toggle-migratable']")!.Click();

        cut.WaitForAssertion(() =>
        {
            var refusal = cut.Find("[data-testid='refusal']").TextContent;
            Assert.Contains("unset migratable on RAM block 'pc.ram'", refusal, StringComparison.Ordinal);
            Assert.Contains("migration mig-7 is active", refusal, StringComparison.Ordinal);
        });
        Assert.True(vm.MainRam.Migratable);
        var line = Assert.Single(ActionLog.Lines);
        Assert.Equal(("admin", "Made pc.ram of vm1 not migratable", "vm1", MigratableSetFrozenException.ErrorCode), (line.User, line.Action, line.Vm, line.Code));
    }

    [Fact]
    public void AddMemoryBackend_WhileFrozen_IsAllowedAndAppearsUnlocked()
    {
        RenderProviders();
        var provider = Render<MudDialogProvider>();
        var vm = CreateVm("vm1");
        using var lease = vm.Freeze.Acquire(new Holder("mig-8", MigrationStatus.Active));
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        cut.Find("[data-testid='add-backend']").Click();
        provider.WaitForAssertion(() => provider.Find("[data-testid='add-backend-submit']"));
        provider.Find(".vmc-backend-id input").Input("extra0");
        provider.Find("[data-testid='add-backend-submit']").Click();

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-backend='extra0']")));
        var row = cut.Find("[data-backend='extra0']").ParentElement!;
        Assert.Null(row.QuerySelector("[data-testid='lock-icon']"));
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

    private sealed class Holder(string id, MigrationStatus status) : IMigrationLeaseHolder
    {
        public string MigrationId => id;

        public MigrationStatus Status => status;

        public void RequestCancel(string? error)
        {
        }
    }
}
