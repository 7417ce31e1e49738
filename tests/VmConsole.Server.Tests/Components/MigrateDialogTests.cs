using Bunit;
using Microsoft.Extensions.Time.Testing;
using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

public sealed class MigrateDialogTests : ConsoleComponentContext
{
    private readonly FakeTimeProvider _clock;

    public MigrateDialogTests()
        : this(new FakeTimeProvider())
    {
    }

    private MigrateDialogTests(FakeTimeProvider clock)
        : base(clock) => _clock = clock;

    [Fact]
    public async Task MigrateDialog_NegativeBandwidth_ShowsTheRuleAndStartsNothing()
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var (provider, _) = await ShowDialogAsync(CreateVm("vm1"));

        provider.Find(".vmc-bandwidth input").Input("-5");
        provider.Find("[data-testid='migrate-start']").Click();

        provider.WaitForAssertion(() => Assert.Contains("Between 0 and 1,048,576 MiB/s.", provider.Markup, StringComparison.Ordinal));
        Assert.Empty(Engine.Registry.All);
    }

    [Fact]
    public async Task MigrateDialog_VmShutDownMeanwhile_ShowsTheEnginesRefusalInline()
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var vm = CreateVm("vm1");
        var (provider, _) = await ShowDialogAsync(vm);
        await vm.ShutdownAsync();

        provider.Find("[data-testid='migrate-start']").Click();

        provider.WaitForAssertion(() =>
            Assert.Contains("VM 'vm1' is shutdown; only a running or paused VM can migrate.", provider.Find("[data-testid='migrate-error']").TextContent, StringComparison.Ordinal));
        Assert.Empty(Engine.Registry.All);
    }

    [Fact]
    public async Task MigrateDialog_NoOtherHost_AsksForADestinationAndStartsNothing()
    {
        var (provider, _) = await ShowDialogAsync(CreateVm("vm1"));

        provider.Find("[data-testid='migrate-start']").Click();

        provider.WaitForAssertion(() => Assert.Contains("Choose a destination host.", provider.Markup, StringComparison.Ordinal));
        Assert.Empty(Engine.Registry.All);
    }

    [Fact]
    public async Task MigrateDialog_Valid_StartsTheMigrationAndClosesWithItsId()
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var vm = CreateVm("vm1");
        var (provider, reference) = await ShowDialogAsync(vm);

        provider.Find("[data-testid='migrate-start']").Click();

        var result = await reference.Result.WaitAsync(TimeSpan.FromSeconds(10));
        var migration = Assert.Single(Engine.Registry.All);
        Assert.Equal(migration.Id, result!.Data);
        Assert.Equal("host-b", migration.DestinationHost);
        Assert.Equal(128 * Sizes.MiB, migration.Parameters.MaxBandwidth);
        Assert.Equal(300, migration.Parameters.DowntimeLimit);
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task MigrateDialog_DestinationTooSmall_PrecheckBlocksWithTheReason()
    {
        Emulator.AddHost("tiny-host", 64 * Sizes.MiB);
        var (provider, _) = await ShowDialogAsync(CreateVm("vm1", memoryMiB: 256));

        var capacity = provider.FindAll("[data-testid='precheck'] [data-passed]").Single(e => e.TextContent.Contains("Destination capacity", StringComparison.Ordinal));
        Assert.Equal("false", capacity.GetAttribute("data-passed"));
        Assert.Contains("free on tiny-host", capacity.TextContent, StringComparison.Ordinal);
        Assert.True(provider.Find("[data-testid='migrate-start']").HasAttribute("disabled"));
        Assert.Empty(Engine.Registry.All);
    }

    [Fact]
    public async Task MigrateDialog_GuestFasterThanTheLink_EstimateSaysItWillNotConvergeWithoutAutoConverge()
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var vm = CreateVm("vm1", memoryMiB: 64);
        var page = new byte[4096];
        for (var i = 0; i < 4096; i++)
        {
            vm.MainRam.Write(i * 4096L, page);
        }

        // 4,096 pages (16 MiB) in the second the emulator's clock moves, against a 1 MiB/s link.
        _clock.Advance(TimeSpan.FromSeconds(1));
        vm.SampleDirtyRate();
        Assert.Equal(4_096, vm.MainRam.DirtyPagesPerSecond);
        var (provider, _) = await ShowDialogAsync(vm);

        provider.Find(".vmc-bandwidth input").Input("1");

        provider.WaitForAssertion(() => Assert.Contains("Will not converge without auto-converge", provider.Find("[data-testid='convergence-estimate']").TextContent, StringComparison.Ordinal));
        Assert.False(provider.Find("[data-testid='migrate-start']").HasAttribute("disabled"));
    }

    private async Task<(IRenderedComponent<MudDialogProvider> Provider, IDialogReference Reference)> ShowDialogAsync(VmConsole.Emulation.Vms.Vm vm)
    {
        RenderProviders();
        var provider = Render<MudDialogProvider>();
        var dialogs = Services.GetService(typeof(IDialogService)) as IDialogService;
        IDialogReference? reference = null;
        await provider.InvokeAsync(async () =>
            reference = await dialogs!.ShowAsync<MigrateDialog>("Migrate", new DialogParameters<MigrateDialog> { { d => d.Vm, vm } }));
        provider.WaitForAssertion(() => provider.Find("[data-testid='migrate-start']"));
        return (provider, reference!);
    }
}
