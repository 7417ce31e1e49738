using System.Net;
using System.Net.Sockets;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Server.Accounts;
using VmConsole.Server.Components.Pages;
using VmConsole.Server.Components.Shared;
using VmConsole.Server.Domain;

namespace VmConsole.Server.Tests.Components;

public sealed class ReceiveFromQemuDialogTests : ConsoleComponentContext
{
    private VmConsole.Migration.Model.MigrationRegistry Incoming => Engine.Registry;

    [Fact]
    public async Task ReceiveDialog_Listen_VmArrivesInMigrateAndTheHmpCommandIsShownWithCopy()
    {
        var (provider, reference) = await ShowDialogAsync();
        var uri = provider.Find("[data-testid='receive-uri']").GetAttribute("value");
        Assert.Matches(@"^tcp:127\.0\.0\.1:\d+$", uri);
        provider.Find("[data-testid='receive-name']").Input("live-1");

        provider.Find("[data-testid='receive-submit']").Click();

        provider.WaitForAssertion(() => Assert.Equal($"migrate -d {uri}", provider.Find("[data-testid='receive-command']").TextContent.Trim()));
        var arriving = Assert.Single(Emulator.Arriving);
        Assert.Equal(("live-1", RunState.InMigrate, "host-a"), (arriving.Name, arriving.RunState, arriving.Host.Name));
        var migration = Assert.Single(Incoming.All);
        Assert.Equal((MigrationStatus.Setup, uri), (migration.Status, migration.Uri));
        Assert.Contains(ActionLog.Lines, l => l == ("admin", "Started receiving live-1 from QEMU", "live-1", "live-1", null));

        provider.Find("[data-testid='receive-copy']").Click();
        // The dialog re-renders live (the migration's state), so the click's handler may run after Click returns.
        provider.WaitForAssertion(() => Assert.Contains(JSInterop.Invocations, i => i.Identifier == "navigator.clipboard.writeText" && (string?)i.Arguments[0] == $"migrate -d {uri}"));

        provider.Find("[data-testid='receive-open-migration']").Click();
        var result = await reference.Result.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(migration.Id, result!.Data);

        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(Emulator.Arriving);
    }

    [Theory]
    [InlineData("tcp:10.1.2.3:4444", "VmConsole migrates over loopback addresses only")]
    [InlineData("file:/tmp/x.mig", "QEMU migrates to a socket here")]
    [InlineData("http://example", "is not supported")]
    public async Task ReceiveDialog_BadUri_ShowsWhyAndKeepsListenDisabled(string uri, string message)
    {
        var (provider, _) = await ShowDialogAsync();
        provider.Find("[data-testid='receive-name']").Input("live-1");
        Assert.False(provider.Find("[data-testid='receive-submit']").IsDisabled());

        provider.Find("[data-testid='receive-uri']").Input(uri);

        provider.WaitForAssertion(() => Assert.Contains(message, provider.ErrorOf("receive-uri"), StringComparison.Ordinal));
        Assert.True(provider.Find("[data-testid='receive-submit']").IsDisabled());
    }

    [Fact]
    public async Task ReceiveDialog_TakenName_ShowsItForVmsAndArrivingVms()
    {
        CreateVm("taken");
        Emulator.ReserveArriving("arriving", "host-a");
        var (provider, _) = await ShowDialogAsync();

        foreach (var name in new[] { "taken", "arriving" })
        {
            provider.Find("[data-testid='receive-name']").Input(name);
            provider.WaitForAssertion(() => Assert.Equal($"A VM named '{name}' already exists.", provider.ErrorOf("receive-name")));
            Assert.True(provider.Find("[data-testid='receive-submit']").IsDisabled());
        }
    }

    [Fact]
    public async Task ReceiveDialog_PortInUse_ShowsTheRefusalOnTheUriAndNothingArrives()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var uri = $"tcp:127.0.0.1:{((IPEndPoint)busy.LocalEndpoint).Port}";
        var (provider, _) = await ShowDialogAsync();
        provider.Find("[data-testid='receive-name']").Input("live-1");
        provider.Find("[data-testid='receive-uri']").Input(uri);

        provider.Find("[data-testid='receive-submit']").Click();

        provider.WaitForAssertion(() => Assert.StartsWith($"Cannot listen on {uri}", provider.ErrorOf("receive-uri"), StringComparison.Ordinal));
        Assert.True(provider.Find("[data-testid='receive-submit']").IsDisabled());
        Assert.Empty(Emulator.Arriving);
        Assert.Empty(Incoming.All);
        Assert.Contains(ActionLog.Lines, l => l is { Action: "Started receiving live-1 from QEMU", Target: "live-1", Code: "address-in-use" });

        // Another port clears the refusal.
        provider.Find("[data-testid='receive-uri']").Input("tcp:127.0.0.1:1");
        provider.WaitForAssertion(() => Assert.Null(provider.ErrorOf("receive-uri")));
    }

    [Theory]
    [InlineData(Roles.Admin, false)]
    [InlineData(Roles.Operator, true)]
    [InlineData(Roles.Viewer, true)]
    public void VmsPage_ReceiveButton_OnlyForThoseWhoMayCreateVms(string role, bool disabled)
    {
        Authorization.SetRoles(role);
        RenderProviders();

        var cut = Render<VmsPage>();

        Assert.Equal(disabled, cut.Find("[data-testid='receive-vm']").IsDisabled());
        Assert.Equal(cut.Find("[data-testid='import-vm']").IsDisabled(), cut.Find("[data-testid='receive-vm']").IsDisabled());
    }

    [Fact]
    public void VmsPage_ArrivingVm_ListedInMigrateUntilItLeaves()
    {
        RenderProviders();
        var cut = Render<VmsPage>();
        Assert.Empty(cut.FindAll("[data-arriving]"));

        var arriving = Emulator.ReserveArriving("live-1", "host-a");

        cut.WaitForAssertion(() => Assert.Contains("inmigrate", cut.Find("[data-arriving='live-1']").TextContent, StringComparison.Ordinal));
        Assert.Contains("waiting for QEMU", cut.Find("[data-arriving='live-1']").TextContent, StringComparison.Ordinal);
        Emulator.ReleaseArriving(arriving);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-arriving]")));
    }

    private async Task<(IRenderedComponent<MudDialogProvider> Provider, IDialogReference Reference)> ShowDialogAsync()
    {
        RenderProviders();
        var provider = Render<MudDialogProvider>();
        var dialogs = Services.GetRequiredService<IDialogService>();
        IDialogReference? reference = null;
        await provider.InvokeAsync(async () => reference = await dialogs.ShowAsync<ReceiveFromQemuDialog>("Receive"));
        provider.WaitForAssertion(() => provider.Find("[data-testid='receive-submit']"));
        return (provider, reference!);
    }
}
