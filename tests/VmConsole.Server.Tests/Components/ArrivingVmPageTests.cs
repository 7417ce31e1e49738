using System.Net;
using System.Net.Sockets;
using Bunit;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

/// <summary>The VM page of a VM a migration from QEMU is bringing in: it says so and links the migration, then becomes the VM's page.</summary>
public sealed class ArrivingVmPageTests : ConsoleComponentContext
{
    [Fact]
    public async Task VmPage_VmArrivingFromQemu_ShowsArrivalThenTheRunningVm()
    {
        var bytes = await QemuStreamOfNewVmAsync();
        var migration = ListenForQemu(out var port);
        RenderProviders();

        var cut = Render<VmPage>(p => p.Add(c => c.Name, "from-qemu"));

        Assert.Contains("arriving from QEMU on host-a", cut.Find("[data-testid='arriving-banner']").TextContent, StringComparison.Ordinal);
        Assert.Equal($"migrations/{migration.Id}", cut.Find("[data-testid='arriving-migration']").GetAttribute("href"));
        Assert.NotEmpty(cut.FindAll("[data-testid='arriving-waiting']"));
        Assert.Empty(cut.FindAll("[data-testid='migrate-button']"));

        using (var qemu = new TcpClient())
        {
            await qemu.ConnectAsync(IPAddress.Loopback, port);
            await qemu.GetStream().WriteAsync(bytes);
        }

        cut.WaitForAssertion(
            () =>
            {
                Assert.Empty(cut.FindAll("[data-testid='arriving-vm']"));
                Assert.NotEmpty(cut.FindAll("[data-testid='migrate-button']"));
                Assert.Contains("microvm", cut.Markup, StringComparison.Ordinal);
            },
            TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void VmPage_ArrivalCancelled_ShowsNoSuchVm()
    {
        var migration = ListenForQemu(out _);
        RenderProviders();
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "from-qemu"));
        Assert.NotEmpty(cut.FindAll("[data-testid='arriving-vm']"));

        migration.Cancel();

        cut.WaitForAssertion(
            () =>
            {
                Assert.Empty(cut.FindAll("[data-testid='arriving-vm']"));
                Assert.Contains("No VM named 'from-qemu'", cut.Markup, StringComparison.Ordinal);
            },
            TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void NavMenu_VmArrivingThenCancelled_ListsItInMigrateThenNot()
    {
        var migration = ListenForQemu(out _);
        RenderProviders();
        var cut = Render<VmConsole.Server.Components.Layout.NavMenu>();

        var link = cut.Find("[data-testid='nav-arriving']");
        Assert.Equal("from-qemu", link.TextContent.Trim());
        Assert.Equal("vms/from-qemu", link.GetAttribute("href"));

        migration.Cancel();

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid='nav-arriving']")), TimeSpan.FromSeconds(10));
    }
}
