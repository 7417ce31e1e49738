using System.Net;
using System.Net.Sockets;
using Bunit;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

/// <summary>The migration page of a migration from QEMU: live while the stream comes in, not from the history.</summary>
public sealed class IncomingMigrationPageTests : ConsoleComponentContext
{
    [Fact]
    public async Task MigrationPage_IncomingStreamArriving_ShowsLiveBytesThenCompleted()
    {
        var bytes = await QemuStreamOfNewVmAsync();
        var migration = ListenForQemu(out var port);
        RenderProviders();

        var cut = Render<MigrationPage>(p => p.Add(c => c.Id, migration.Id));

        Assert.Equal("setup", cut.Find("[data-testid='migration-status']").GetAttribute("data-status"));
        Assert.Equal($"migrate -d tcp:127.0.0.1:{port}", cut.Find("[data-testid='migration-qemu-command']").TextContent.Trim());
        Assert.DoesNotContain("From the history", cut.Markup, StringComparison.Ordinal);

        using var qemu = new TcpClient();
        await qemu.ConnectAsync(IPAddress.Loopback, port);
        var wire = qemu.GetStream();
        var half = bytes.Length / 2;
        await wire.WriteAsync(bytes.AsMemory(0, half));
        await wire.FlushAsync();
        cut.WaitForAssertion(
            () =>
            {
                Assert.Equal("active", cut.Find("[data-testid='migration-status']").GetAttribute("data-status"));
                var received = migration.GetStats().Transferred;
                Assert.True(received > 0, "nothing read yet");
                var shown = string.Concat(cut.Find("[data-testid='migration-stats']").TextContent.Where(c => !char.IsWhiteSpace(c)));
                Assert.Contains("Received" + string.Concat(VmConsole.Server.Components.Shared.Display.Bytes(received).Where(c => !char.IsWhiteSpace(c))), shown, StringComparison.Ordinal);
            },
            TimeSpan.FromSeconds(10));

        await wire.WriteAsync(bytes.AsMemory(half));
        qemu.Close();
        cut.WaitForAssertion(() => Assert.Equal("completed", cut.Find("[data-testid='migration-status']").GetAttribute("data-status")), TimeSpan.FromSeconds(10));
        Assert.Contains("runs on host-a", cut.Find("[data-testid='migration-summary']").TextContent, StringComparison.Ordinal);
    }
}
