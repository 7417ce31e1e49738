using Bunit;
using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

public sealed class CreateVmDialogTests : ConsoleComponentContext
{
    private IRenderedComponent<MudPopoverProvider> _popovers = null!;

    [Theory]
    [InlineData("vm-name", "Bad_Name", "1 to 63 lower-case letters, digits and '-', starting with a letter or digit.")]
    [InlineData("vm-name", "taken", "A VM named 'taken' already exists.")]
    [InlineData("vm-memory", "9000", "host-a has only 7.94 GiB free.")]
    public async Task CreateVmDialog_BadField_ShowsTheRuleAndKeepsCreateDisabled(string field, string value, string message)
    {
        CreateVm("taken");
        var (provider, _) = await ShowDialogAsync();
        provider.Find("[data-testid='vm-name']").Input("fresh");
        Assert.False(provider.Find("[data-testid='create-vm-submit']").IsDisabled());

        provider.Find($"[data-testid='{field}']").Input(value);

        provider.WaitForAssertion(() => Assert.Equal(message, provider.ErrorOf(field)));
        Assert.True(provider.Find("[data-testid='create-vm-submit']").IsDisabled());
    }

    [Fact]
    public async Task CreateVmDialog_JustOpened_NoNameErrorYetAndCreateDisabledUntilTypedThenCleared()
    {
        var (provider, _) = await ShowDialogAsync();

        Assert.Null(provider.ErrorOf("vm-name"));
        Assert.True(provider.Find("[data-testid='create-vm-submit']").IsDisabled());

        provider.Find("[data-testid='vm-name']").Input("x");
        provider.Find("[data-testid='vm-name']").Input("");

        provider.WaitForAssertion(() => Assert.Equal("A VM needs a name.", provider.ErrorOf("vm-name")));
        Assert.True(provider.Find("[data-testid='create-vm-submit']").IsDisabled());
    }

    [Fact]
    public async Task CreateVmDialog_SlotsWithMaxMemNotAboveMemory_ShowsTheRuleAndKeepsCreateDisabled()
    {
        var (provider, _) = await ShowDialogAsync();
        provider.Find("[data-testid='vm-name']").Input("fresh");

        // Slots make maxmem count; it is still 0, not above the 512 MiB of memory.
        provider.Find("[data-testid='vm-slots']").Input("2");

        provider.WaitForAssertion(() => Assert.Equal("Above the memory (512 MiB) and at most 1024 GiB.", provider.ErrorOf("vm-maxmem")));
        Assert.True(provider.Find("[data-testid='create-vm-submit']").IsDisabled());

        provider.Find("[data-testid='vm-maxmem']").Input("1024");

        provider.WaitForAssertion(() => Assert.Null(provider.ErrorOf("vm-maxmem")));
        Assert.False(provider.Find("[data-testid='create-vm-submit']").IsDisabled());
    }

    [Fact]
    public async Task CreateVmDialog_MemoryAboveHostFreeThenBlur_StillShowsTheRule()
    {
        var (provider, _) = await ShowDialogAsync();
        provider.Find("[data-testid='vm-name']").Input("fresh");
        provider.Find("[data-testid='vm-memory']").Input("9000");

        provider.Find("[data-testid='vm-memory']").Blur();

        provider.WaitForAssertion(() => Assert.Equal("host-a has only 8 GiB free.", provider.ErrorOf("vm-memory")));
        Assert.True(provider.Find("[data-testid='create-vm-submit']").IsDisabled());
    }

    [Fact]
    public async Task CreateVmDialog_RateZeroWithAWorkload_ShowsTheRuleAndKeepsCreateDisabled()
    {
        var (provider, _) = await ShowDialogAsync();
        provider.Find("[data-testid='vm-name']").Input("fresh");
        provider.Choose(_popovers, "vm-workload", "uniform");

        provider.Find("[data-testid='vm-rate']").Input("0");

        provider.WaitForAssertion(() => Assert.Equal("Between 1 and 10,000,000.", provider.ErrorOf("vm-rate")));
        Assert.True(provider.Find("[data-testid='create-vm-submit']").IsDisabled());
    }

    [Fact]
    public async Task CreateVmDialog_Valid_CreatesTheVmAsChosenAndLogsIt()
    {
        var (provider, reference) = await ShowDialogAsync();
        provider.Find("[data-testid='vm-name']").Input("web-2");
        provider.Choose(_popovers, "vm-machine", "pc");
        provider.Find("[data-testid='vm-memory']").Input("256");
        provider.Find("[data-testid='vm-slots']").Input("2");
        provider.Find("[data-testid='vm-maxmem']").Input("1024");
        provider.Choose(_popovers, "vm-workload", "uniform");
        provider.Find("[data-testid='vm-rate']").Input("500");

        provider.Find("[data-testid='create-vm-submit']").Click();

        var result = await reference.Result.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("web-2", result!.Data);
        var vm = Emulator.GetVm("web-2");
        Assert.Equal("pc", vm.Machine.Name);
        Assert.Equal(256 * Sizes.MiB, vm.MemoryBytes);
        Assert.Equal(2, vm.Slots);
        Assert.Equal(1024 * Sizes.MiB, vm.MaxMemBytes);
        Assert.Equal(new WorkloadSpec(WorkloadKind.Uniform, 500), vm.Workload.Spec);
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.Contains(ActionLog.Lines, l => l == ("admin", "Created VM web-2", "web-2", "web-2", null));
    }

    [Fact]
    public async Task CreateVmDialog_HostFilledAfterItOpened_ShowsTheRefusalAndCreatesNothing()
    {
        var (provider, _) = await ShowDialogAsync();
        provider.Find("[data-testid='vm-name']").Input("big");
        provider.Find("[data-testid='vm-memory']").Input("6144");
        Assert.False(provider.Find("[data-testid='create-vm-submit']").IsDisabled());

        // Someone else takes most of host-a while the dialog is open.
        CreateVm("hog", memoryMiB: 4096);
        provider.Find("[data-testid='create-vm-submit']").Click();

        provider.WaitForAssertion(() => Assert.Contains("host-a", provider.Find("[data-testid='create-vm-error']").TextContent, StringComparison.Ordinal));
        Assert.False(Emulator.TryGetVm("big", out _));
        Assert.Contains(ActionLog.Lines, l => l is { Action: "Created VM big", Target: "big", Code: not null });
        Assert.NotEmpty(provider.FindAll("[data-testid='create-vm-dialog']"));
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
