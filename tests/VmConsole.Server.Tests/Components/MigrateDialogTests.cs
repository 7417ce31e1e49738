using Bunit;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Server.Domain;
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

    [Theory]
    [InlineData("-5", "Between 0 and 1,048,576 MiB/s.")]
    [InlineData("2000000", "Between 0 and 1,048,576 MiB/s.")]
    [InlineData("", "Enter a bandwidth in MiB/s (0 for unlimited).")]
    public async Task MigrateDialog_InvalidBandwidth_ShowsTheFieldErrorAndNoEstimate(string typed, string error)
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var (provider, _) = await ShowDialogAsync(CreateVm("vm1"));
        Assert.Contains("Converges in about", provider.Find("[data-testid='convergence-estimate']").TextContent, StringComparison.Ordinal);

        provider.Find(".vmc-bandwidth input").Input(typed);

        provider.WaitForAssertion(() => Assert.Equal(error, provider.ErrorOf("migrate-bandwidth")));
        Assert.Empty(provider.FindAll("[data-testid='convergence-estimate']"));
        Assert.Empty(provider.FindAll("[data-testid='first-pass']"));
        Assert.DoesNotContain("Converges", provider.Markup, StringComparison.Ordinal);
        Assert.NotNull(provider.Find("[data-testid='no-estimate']"));
        Assert.True(provider.Find("[data-testid='migrate-start']").IsDisabled());
    }

    [Fact]
    public async Task MigrateDialog_NonNumericBandwidth_ShowsNoEstimate()
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var (provider, _) = await ShowDialogAsync(CreateVm("vm1"));

        provider.Find(".vmc-bandwidth input").Input("fast");

        provider.WaitForAssertion(() => Assert.NotNull(provider.Find("[data-testid='no-estimate']")));
        Assert.NotNull(provider.ErrorOf("migrate-bandwidth"));
        Assert.DoesNotContain("Converges", provider.Markup, StringComparison.Ordinal);
        Assert.True(provider.Find("[data-testid='migrate-start']").IsDisabled());
    }

    [Fact]
    public async Task MigrateDialog_UnlimitedBandwidth_SaysNoConvergenceEstimate()
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var (provider, _) = await ShowDialogAsync(CreateVm("vm1"));

        provider.Find(".vmc-bandwidth input").Input("0");

        provider.WaitForAssertion(() => Assert.Contains("Unlimited bandwidth: no convergence estimate", provider.Find("[data-testid='convergence-estimate']").TextContent, StringComparison.Ordinal));
        Assert.DoesNotContain("Converges in", provider.Markup, StringComparison.Ordinal);
        Assert.Contains("as fast as the link allows", provider.Find("[data-testid='first-pass']").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MigrateDialog_ValidBandwidth_ShowsHowLongTheFirstPassTakes()
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var vm = CreateVm("vm1", memoryMiB: 256);
        var migratable = vm.RamBlocks.Where(b => b.Migratable).Sum(b => b.UsedLength);
        var (provider, _) = await ShowDialogAsync(vm);

        provider.Find(".vmc-bandwidth input").Input("16");

        var expected = $"The first pass sends {Display.Bytes(migratable)} in about {Display.Duration(TimeSpan.FromSeconds(migratable / (16.0 * Sizes.MiB)))}.";
        provider.WaitForAssertion(() => Assert.Equal(expected, provider.Find("[data-testid='first-pass']").TextContent.Trim()));
        Assert.Contains("16 s", expected, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MigrateDialog_GuestFasterThanTheLink_WarnsAndRequiresConfirmationBeforeStarting()
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var (provider, reference) = await ShowDialogAsync(DirtyingFasterThanOneMiBPerSecond());

        provider.Find(".vmc-bandwidth input").Input("1");

        provider.WaitForAssertion(() => Assert.Contains("Will not converge without auto-converge", provider.Find("[data-testid='convergence-estimate']").TextContent, StringComparison.Ordinal));
        var warning = provider.Find("[data-testid='convergence-warning']");
        Assert.Contains("mud-alert-text-warning", warning.ClassName, StringComparison.Ordinal);
        Assert.NotNull(warning.QuerySelector("[data-testid='turn-on-auto-converge']"));
        var start = provider.Find("[data-testid='migrate-start']");
        Assert.True(start.IsDisabled());
        Assert.Equal("Start anyway", start.TextContent.Trim());

        provider.Find("input[data-testid='start-anyway']").Change(true);
        provider.WaitForAssertion(() => Assert.False(provider.Find("[data-testid='migrate-start']").IsDisabled()));
        provider.Find("[data-testid='migrate-start']").Click();

        var result = await reference.Result.WaitAsync(TimeSpan.FromSeconds(10));
        var migration = Assert.Single(Engine.Registry.All);
        Assert.Equal(migration.Id, result!.Data);
        Assert.False(migration.Capabilities.AutoConverge);
        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task MigrateDialog_TurnOnAutoConvergeInTheWarning_StartsWithAutoConverge()
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var (provider, reference) = await ShowDialogAsync(DirtyingFasterThanOneMiBPerSecond());
        provider.Find(".vmc-bandwidth input").Input("1");
        provider.WaitForAssertion(() => Assert.True(provider.Find("[data-testid='migrate-start']").IsDisabled()));

        provider.Find("[data-testid='turn-on-auto-converge']").Click();

        provider.WaitForAssertion(() => Assert.Empty(provider.FindAll("[data-testid='convergence-warning']")));
        Assert.Contains("auto-converge will have to throttle it", provider.Find("[data-testid='convergence-estimate']").TextContent, StringComparison.Ordinal);
        Assert.Equal("Migrate", provider.Find("[data-testid='migrate-start']").TextContent.Trim());
        provider.Find("[data-testid='migrate-start']").Click();

        await reference.Result.WaitAsync(TimeSpan.FromSeconds(10));
        var migration = Assert.Single(Engine.Registry.All);
        Assert.True(migration.Capabilities.AutoConverge);
        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>VM "vm1" whose guest dirtied 4,096 pages (16 MiB) in the second the emulator's clock moved.</summary>
    private VmConsole.Emulation.Vms.Vm DirtyingFasterThanOneMiBPerSecond()
    {
        var vm = CreateVm("vm1", memoryMiB: 64);
        var page = new byte[4096];
        for (var i = 0; i < 4096; i++)
        {
            vm.MainRam.Write(i * 4096L, page);
        }

        _clock.Advance(TimeSpan.FromSeconds(1));
        vm.SampleDirtyRate();
        Assert.Equal(4_096, vm.MainRam.DirtyPagesPerSecond);
        return vm;
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

/// <summary>The dialog's estimate as the dirty-rate sampler runs: one fake clock drives the sampler, the emulator and the dialog.</summary>
public sealed class MigrateDialogLiveTests : ConsoleComponentContext
{
    // The clock the constructor hands to the base class, for AddServices (which the base constructor calls) to register.
    [ThreadStatic]
    private static FakeTimeProvider? t_constructing;

    private readonly FakeTimeProvider _clock;

    public MigrateDialogLiveTests()
        : this(new FakeTimeProvider())
    {
    }

    private MigrateDialogLiveTests(FakeTimeProvider clock)
        : base(Constructing(clock)) => _clock = clock;

    private DirtyRateSampler Sampler => Services.GetRequiredService<DirtyRateSampler>();

    protected override void AddServices(IServiceCollection services) => services.AddSingleton<TimeProvider>(t_constructing!);

    protected override Task StopAsync() => Sampler.StopAsync(CancellationToken.None);

    [Fact]
    public async Task MigrateDialog_GuestStartsDirtyingFasterThanTheLink_WarningFollowsTheNextSample()
    {
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
        var vm = CreateVm("vm1", memoryMiB: 64);
        await Sampler.StartAsync(CancellationToken.None);
        RenderProviders();
        var provider = Render<MudDialogProvider>();
        var dialogs = Services.GetRequiredService<IDialogService>();
        await provider.InvokeAsync(() => dialogs.ShowAsync<MigrateDialog>("Migrate", new DialogParameters<MigrateDialog> { { d => d.Vm, vm } }));
        provider.WaitForAssertion(() => provider.Find(".vmc-bandwidth input"));
        provider.Find(".vmc-bandwidth input").Input("1");
        provider.WaitForAssertion(() => Assert.StartsWith("Converges in about", provider.Find("[data-testid='convergence-estimate']").TextContent.Trim(), StringComparison.Ordinal));

        var page = new byte[4096];
        for (var i = 0; i < 4096; i++)
        {
            vm.MainRam.Write(i * 4096L, page);
        }

        _clock.Advance(TimeSpan.FromSeconds(1));

        provider.WaitForAssertion(() => Assert.NotNull(provider.Find("[data-testid='convergence-warning']")));
        Assert.Contains("Will not converge without auto-converge", provider.Find("[data-testid='convergence-estimate']").TextContent, StringComparison.Ordinal);
    }

    private static FakeTimeProvider Constructing(FakeTimeProvider clock) => t_constructing = clock;
}
