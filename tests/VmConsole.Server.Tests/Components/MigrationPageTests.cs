using Bunit;
using VmConsole.Emulation;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

public sealed class MigrationPageTests : ConsoleComponentContext
{
    public MigrationPageTests() => Emulator.AddHost("host-b", 8 * Sizes.GiB);

    [Fact]
    public async Task MigrationPage_RunningMigration_UpdatesLiveThenShowsCancelled()
    {
        RenderProviders();
        var vm = CreateVm("vm1", memoryMiB: 64);
        var page = new byte[4096];
        Random.Shared.NextBytes(page);
        for (var i = 0; i < 4096; i++)
        {
            vm.MainRam.Write(i * 4096L, page);
        }

        // A guest that dirties pages and a 1 ms downtime limit: the migration stays active until cancelled, however
        // long this busy machine takes to get there.
        vm.SetWorkload(new WorkloadSpec(WorkloadKind.Uniform, 1_000));
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = 2 * Sizes.MiB, DowntimeLimit = 1 } });
        var cut = Render<MigrationPage>(p => p.Add(c => c.Id, migration.Id));
        var first = cut.Find("[data-testid='migration-stats'] .vmc-fact").TextContent;

        cut.WaitForAssertion(() => Assert.NotEqual(first, cut.Find("[data-testid='migration-stats'] .vmc-fact").TextContent), TimeSpan.FromSeconds(5));
        cut.WaitForAssertion(() => Assert.Equal("active", cut.Find("[data-testid='migration-status']").GetAttribute("data-status")), TimeSpan.FromSeconds(5));
        cut.WaitForAssertion(() => Assert.Equal("active", cut.Find("[data-testid='migration-stepper'] [data-current='true']").TextContent.Trim()));
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid='migration-charts'] svg path")), TimeSpan.FromSeconds(5));

        await cut.InvokeAsync(() => cut.Find("[data-testid='migration-cancel']").Click());

        cut.WaitForAssertion(() => Assert.Equal("cancelled", cut.Find("[data-testid='migration-status']").GetAttribute("data-status")), TimeSpan.FromSeconds(10));
        Assert.Contains("Cancelled", cut.Find("[data-testid='migration-summary']").TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid='migration-cancel']"));
        Assert.Contains("cancelling", cut.Find("[data-testid='migration-events']").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MigrationPage_Completed_ShowsDowntimeAndVerification()
    {
        RenderProviders();
        CreateVm("vm1", memoryMiB: 32);
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" });
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(30));

        var cut = Render<MigrationPage>(p => p.Add(c => c.Id, migration.Id));

        var summary = cut.Find("[data-testid='migration-summary']").TextContent;
        Assert.Contains("of downtime", summary, StringComparison.Ordinal);
        Assert.Contains("Verified", summary, StringComparison.Ordinal);
        Assert.Equal("completed", cut.Find("[data-testid='migration-status']").GetAttribute("data-status"));
    }
}
