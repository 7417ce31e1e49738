using Bunit;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Qemu;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

public sealed class ImportVmDialogTests : ConsoleComponentContext
{
    protected override void AddServices(IServiceCollection services) => services.AddSingleton(new QemuStreamImport(Emulator));

    [Theory]
    [InlineData("Bad_Name", "1 to 63 lower-case letters, digits and '-', starting with a letter or digit.")]
    [InlineData("taken", "A VM named 'taken' already exists.")]
    public async Task ImportVmDialog_BadName_ShowsTheRuleAndKeepsImportDisabled(string name, string message)
    {
        CreateVm("taken");
        var (provider, _) = await ShowDialogAsync();
        provider.Find("[data-testid='import-name']").Input("fresh");
        await UploadAsync(provider, await ExportedStreamAsync());
        Assert.False(provider.Find("[data-testid='import-submit']").IsDisabled());

        provider.Find("[data-testid='import-name']").Input(name);

        provider.WaitForAssertion(() => Assert.Equal(message, provider.ErrorOf("import-name")));
        Assert.True(provider.Find("[data-testid='import-submit']").IsDisabled());
    }

    [Fact]
    public async Task ImportVmDialog_NoFileChosen_KeepsImportDisabled()
    {
        var (provider, _) = await ShowDialogAsync();

        provider.Find("[data-testid='import-name']").Input("fresh");

        Assert.Equal("No file chosen", provider.Find("[data-testid='import-file-name']").TextContent.Trim());
        Assert.True(provider.Find("[data-testid='import-submit']").IsDisabled());
    }

    [Fact]
    public async Task ImportVmDialog_ValidStream_MakesTheVmWithItsBytesAndLogsIt()
    {
        var stream = await ExportedStreamAsync();
        var (provider, reference) = await ShowDialogAsync();
        provider.Find("[data-testid='import-name']").Input("copy-1");
        await UploadAsync(provider, stream);
        Assert.Contains("vm.stream", provider.Find("[data-testid='import-file-name']").TextContent, StringComparison.Ordinal);

        provider.Find("[data-testid='import-submit']").Click();

        var result = await reference.Result.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.False(result!.Canceled);
        Assert.Equal("copy-1", result.Data);
        var vm = Emulator.GetVm("copy-1");
        Assert.Equal("microvm", vm.Machine.Name);
        Assert.Equal(RunState.Running, vm.RunState);
        var bytes = new byte[Marker.Length];
        vm.FindMigratable("microvm.ram")!.Read(MarkerOffset, bytes);
        Assert.Equal(Marker, bytes);
        Assert.Contains(ActionLog.Lines, l => l == ("admin", "Imported VM copy-1", "copy-1", "copy-1", null));
    }

    [Fact]
    public async Task ImportVmDialog_MalformedStream_ShowsQemusErrorAndCreatesNothing()
    {
        var (provider, _) = await ShowDialogAsync();
        provider.Find("[data-testid='import-name']").Input("broken");
        await UploadAsync(provider, [.. "not QEMU at all, just text"u8]);
        var before = Emulator.Vms.Count;

        provider.Find("[data-testid='import-submit']").Click();

        provider.WaitForAssertion(() => Assert.Equal("Not a migration stream", provider.Find("[data-testid='import-error']").TextContent.Trim()), TimeSpan.FromSeconds(10));
        Assert.False(Emulator.TryGetVm("broken", out _));
        Assert.Equal(before, Emulator.Vms.Count);
        Assert.Contains(ActionLog.Lines, l => l is { Action: "Imported VM broken", Target: "broken", Code: "invalid-stream" });
        Assert.False(provider.Find("[data-testid='import-submit']").IsDisabled());
    }

    private static readonly byte[] Marker = [.. "VmConsole import"u8];
    private const long MarkerOffset = 0x2_3450;

    /// <summary>A 16 MiB microvm with a marker in its RAM, exported as QEMU would load it, then deleted.</summary>
    private async Task<byte[]> ExportedStreamAsync()
    {
        var source = CreateVm("export-src", machine: "microvm", memoryMiB: 16);
        source.FindMigratable("microvm.ram")!.Write(MarkerOffset, Marker);
        using var output = new MemoryStream();
        await QemuStreamExport.ExportAsync(source, output);
        await Emulator.DeleteVmAsync("export-src");
        return output.ToArray();
    }

    private static Task UploadAsync(IRenderedComponent<MudDialogProvider> provider, byte[] content)
    {
        provider.FindComponent<InputFile>().UploadFiles(InputFileContent.CreateFromBinary(content, "vm.stream"));
        provider.WaitForAssertion(() => Assert.Contains("vm.stream", provider.Find("[data-testid='import-file-name']").TextContent, StringComparison.Ordinal));
        return Task.CompletedTask;
    }

    private async Task<(IRenderedComponent<MudDialogProvider> Provider, IDialogReference Reference)> ShowDialogAsync()
    {
        RenderProviders();
        var provider = Render<MudDialogProvider>();
        var dialogs = Services.GetRequiredService<IDialogService>();
        IDialogReference? reference = null;
        await provider.InvokeAsync(async () => reference = await dialogs.ShowAsync<ImportVmDialog>("Import"));
        provider.WaitForAssertion(() => provider.Find("[data-testid='import-submit']"));
        return (provider, reference!);
    }
}
