using System.Net;
using System.Net.Sockets;
using Bunit;
using VmConsole.Emulation;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

public sealed class OverviewTests : ConsoleComponentContext
{
    public OverviewTests() => Emulator.AddHost("host-b", 8 * Sizes.GiB);

    [Fact]
    public async Task Overview_MigrationRunning_ShowsItWithLiveProgressThenDropsItWhenDone()
    {
        RenderProviders();
        var vm = CreateVm("vm1", memoryMiB: 64);
        var page = new byte[4096];
        for (var i = 0; i < 4096; i++)
        {
            Random.Shared.NextBytes(page);
            vm.MainRam.Write(i * 4096L, page);
        }

        var cut = Render<Overview>();
        Assert.Equal("1 VM · 1 running", cut.Find("[data-host='host-a'] .vmc-muted").TextContent.Trim());
        Assert.Equal("0 VMs · 0 running", cut.Find("[data-host='host-b'] .vmc-muted").TextContent.Trim());
        // A guest that dirties pages and a 1 ms downtime limit: active until cancelled, however slow this machine.
        vm.SetWorkload(new WorkloadSpec(WorkloadKind.Uniform, 1_000));
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = 4 * Sizes.MiB, DowntimeLimit = 1 } });

        cut.WaitForAssertion(() => Assert.Contains("vm1: host-a → host-b", cut.Find("[data-testid='active-migrations']").TextContent, StringComparison.Ordinal));
        var first = cut.Find("[data-testid='active-migrations']").TextContent;
        cut.WaitForAssertion(() => Assert.NotEqual(first, cut.Find("[data-testid='active-migrations']").TextContent), TimeSpan.FromSeconds(5));

        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(10));
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid='active-migrations']")));
    }

    [Fact]
    public async Task Overview_MigrationRow_ShowsPercentElapsedEtaAndRatesInBytesPerSecond()
    {
        RenderProviders();
        var channels = GatedChannels.Install(Engine, holdFlushes: true);
        CreateVm("vm1", memoryMiB: 32);
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" });
        var writer = await channels.For(migration).WaitAsync(TimeSpan.FromSeconds(10));
        try
        {
            var cut = Render<Overview>();

            // Held at the setup's flush: nothing sent, so no ETA yet.
            cut.WaitForAssertion(() => Assert.Matches(@"^0 % · [\d.]+ (ms|s) · ETA — · 0 B sent · 0 B/s$", Figures(cut, migration.Id)));

            writer.Allow(3);
            cut.WaitForAssertion(() => Assert.Matches(@"^[1-9]\d* % · ", Figures(cut, migration.Id)), TimeSpan.FromSeconds(10));
            Assert.DoesNotContain("Mbit/s", Figures(cut, migration.Id), StringComparison.Ordinal);
        }
        finally
        {
            migration.Cancel();
            writer.Release();
            await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));
        }
    }

    private static string Figures(IRenderedComponent<Overview> cut, string id) =>
        string.Join(' ', cut.Find($"[data-testid='active-migrations'] [data-migration='{id}'] [data-testid='active-migration-figures']").TextContent.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    /// <summary>
    /// A VM arriving from QEMU is on the overview as on the VMs page: listed as arriving with its migration, which is
    /// among the active migrations with the bytes received; once the stream is in, it is an ordinary running VM.
    /// </summary>
    [Fact]
    public async Task Overview_VmArrivingFromQemu_ListsItAndItsMigrationThenTheRunningVm()
    {
        var bytes = await QemuStreamOfNewVmAsync();
        RenderProviders();
        var cut = Render<Overview>();

        var migration = ListenForQemu(out var port);
        cut.WaitForAssertion(() =>
        {
            var arriving = cut.Find("[data-testid='arriving-vms'] [data-arriving='from-qemu']").TextContent;
            Assert.Contains("waiting for QEMU", arriving, StringComparison.Ordinal);
            Assert.Contains(migration.Id, arriving, StringComparison.Ordinal);
            var row = cut.Find($"[data-testid='active-migrations'] [data-migration='{migration.Id}']").TextContent;
            Assert.Contains($"from-qemu: qemu (tcp:127.0.0.1:{port}) → host-a", row, StringComparison.Ordinal);
        });
        Assert.DoesNotContain(cut.FindAll("[data-testid='vm-table'] a"), a => a.TextContent == "from-qemu");

        using (var qemu = new TcpClient())
        {
            await qemu.ConnectAsync(IPAddress.Loopback, port);
            var wire = qemu.GetStream();
            await wire.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
            await wire.FlushAsync();
            cut.WaitForAssertion(
                () =>
                {
                    var row = cut.Find($"[data-testid='active-migrations'] [data-migration='{migration.Id}']").TextContent;
                    Assert.Contains("received", row, StringComparison.Ordinal);
                    Assert.DoesNotContain("0 B received", row, StringComparison.Ordinal);
                    Assert.Contains("microvm · 16 MiB", cut.Find("[data-arriving='from-qemu']").TextContent, StringComparison.Ordinal);
                },
                TimeSpan.FromSeconds(10));
            await wire.WriteAsync(bytes.AsMemory(bytes.Length / 2));
        }

        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(10));
        cut.WaitForAssertion(
            () =>
            {
                Assert.Empty(cut.FindAll("[data-testid='arriving-vms']"));
                Assert.Empty(cut.FindAll("[data-testid='active-migrations']"));
                Assert.Contains(cut.FindAll("[data-testid='vm-table'] a"), a => a.TextContent == "from-qemu");
            },
            TimeSpan.FromSeconds(10));
    }
}
