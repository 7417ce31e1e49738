using System.Reflection;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using VmConsole.Migration.Qemu;
using VmConsole.Server.Components.Layout;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

/// <summary>Every dialog is usable from the keyboard: Escape closes it, and typing starts in its first field.</summary>
public sealed class DialogKeyboardTests : ConsoleComponentContext
{
    protected override void AddServices(IServiceCollection services) => services.AddSingleton(new QemuStreamImport(Emulator));

    private IDialogService Dialogs => Services.GetRequiredService<IDialogService>();

    [Fact]
    public async Task Dialog_EscapeUnderTheConsoleLayout_Closes()
    {
        var layout = RenderLayout();
        IDialogReference? reference = null;
        // As the VMs page opens it: options of its own, none about Escape.
        await layout.InvokeAsync(async () => reference = await Dialogs.ShowAsync<CreateVmDialog>("Create a virtual machine", new DialogOptions { MaxWidth = MaxWidth.Small, FullWidth = true }));
        layout.WaitForAssertion(() => layout.Find("[data-testid='create-vm-dialog']"));

        await PressEscapeAsync(layout);

        var result = await reference!.Result.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(result!.Canceled);
        layout.WaitForAssertion(() => Assert.Empty(layout.FindAll("[data-testid='create-vm-dialog']")));
    }

    [Fact]
    public async Task Dialog_EscapeWithoutTheConsoleLayout_StaysOpen()
    {
        // MudBlazor's own default: the layout's setting is what makes Escape close a dialog.
        var provider = Render<MudDialogProvider>();
        await provider.InvokeAsync(() => Dialogs.ShowAsync<CreateVmDialog>("Create a virtual machine"));
        provider.WaitForAssertion(() => provider.Find("[data-testid='create-vm-dialog']"));

        await PressEscapeAsync(provider);

        Assert.NotEmpty(provider.FindAll("[data-testid='create-vm-dialog']"));
    }

    [Theory]
    [InlineData(nameof(CreateVmDialog))]
    [InlineData(nameof(ImportVmDialog))]
    [InlineData(nameof(ReceiveFromQemuDialog))]
    [InlineData(nameof(MigrateDialog))]
    [InlineData(nameof(AddBackendDialog))]
    [InlineData(nameof(PlugDialog))]
    [InlineData(nameof(ResizeDialog))]
    [InlineData(nameof(AddUserDialog))]
    [InlineData(nameof(SetPasswordDialog))]
    public async Task Dialog_Opened_FocusIsInItsFirstField(string dialog)
    {
        var vm = CreateVm("vm1");
        RenderProviders();
        var provider = Render<MudDialogProvider>();

        await provider.InvokeAsync(() => dialog switch
        {
            nameof(CreateVmDialog) => Dialogs.ShowAsync<CreateVmDialog>(dialog),
            nameof(ImportVmDialog) => Dialogs.ShowAsync<ImportVmDialog>(dialog),
            nameof(ReceiveFromQemuDialog) => Dialogs.ShowAsync<ReceiveFromQemuDialog>(dialog),
            nameof(MigrateDialog) => Dialogs.ShowAsync<MigrateDialog>(dialog, new DialogParameters<MigrateDialog> { { d => d.Vm, vm } }),
            nameof(AddBackendDialog) => Dialogs.ShowAsync<AddBackendDialog>(dialog, new DialogParameters<AddBackendDialog> { { d => d.Vm, vm } }),
            nameof(PlugDialog) => Dialogs.ShowAsync<PlugDialog>(dialog, new DialogParameters<PlugDialog> { { d => d.Backend, "mem1" } }),
            nameof(ResizeDialog) => Dialogs.ShowAsync<ResizeDialog>(dialog, new DialogParameters<ResizeDialog> { { d => d.Block, vm.ToRow(vm.RamBlocks[0]) } }),
            nameof(AddUserDialog) => Dialogs.ShowAsync<AddUserDialog>(dialog),
            nameof(SetPasswordDialog) => Dialogs.ShowAsync<SetPasswordDialog>(dialog, new DialogParameters<SetPasswordDialog> { { d => d.UserName, "admin" }, { d => d.Own, true } }),
            _ => throw new ArgumentOutOfRangeException(nameof(dialog)),
        });

        provider.WaitForAssertion(() =>
        {
            var firstField = provider.Find(".mud-dialog-content input");
            Assert.Equal(firstField.GetAttribute("id"), LastFocused(provider)?.GetAttribute("id"));
        });
    }

    private IRenderedComponent<MainLayout> RenderLayout()
    {
        var layout = Render<MainLayout>(p => p.Add(l => l.Body, (RenderFragment)(b => b.AddContent(0, "a page"))));
        layout.WaitForAssertion(() => layout.Find("[data-testid='theme-toggle']"));
        return layout;
    }

    /// <summary>Escape on the open dialog, passed to MudBlazor's key interceptor as its script does in a browser.</summary>
    private async Task PressEscapeAsync<T>(IRenderedComponent<T> owner)
        where T : IComponent
    {
        var container = owner.Find(".mud-dialog-container").GetAttribute("id")!;
        var keys = Services.GetRequiredService<IKeyInterceptorService>();
        await owner.InvokeAsync(() => keys.DispatchAsync(container, KeyEventKind.Down, new KeyboardEventArgs { Key = "Escape", Type = "keydown" }));
    }

    /// <summary>The element the last focus call went to (bUnit marks each captured element reference in the markup).</summary>
    private AngleSharp.Dom.IElement? LastFocused<T>(IRenderedComponent<T> owner)
        where T : class, IComponent
    {
        var focus = JSInterop.Invocations.LastOrDefault(i => i.Identifier == "Blazor._internal.domWrapper.focus");
        if (focus.Arguments is not [ElementReference target, ..])
        {
            return null;
        }

        // The markup names a captured element when its component's last render captured it; a dialog that re-renders
        // live (the Migrate dialog follows the dirty rate) leaves it unnamed there, so the input is found from the
        // MudInput that holds the reference instead.
        return owner.FindAll($"[blazor\\:elementReference='{target.Id}']").SingleOrDefault()
            ?? owner.FindComponents<IComponent>()
                .Select(c => c.Instance)
                .Where(i => i.GetType().IsGenericType && i.GetType().GetGenericTypeDefinition() == typeof(MudInput<>))
                .Where(i => i.GetType().GetProperty(nameof(MudInput<string>.ElementReference))?.GetValue(i) is ElementReference r && r.Id == target.Id)
                .Select(i => i.GetType().GetProperty("InputElementId", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)?.GetValue(i) as string)
                .Where(id => id is not null)
                .Select(id => owner.FindAll($"input[id='{id}']").SingleOrDefault())
                .FirstOrDefault();
    }
}
