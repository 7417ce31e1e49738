using Bunit;
using VmConsole.Emulation;
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
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = 4 * Sizes.MiB } });

        cut.WaitForAssertion(() => Assert.Contains("vm1: host-a → host-b", cut.Find("[data-testid='active-migrations']").TextContent, StringComparison.Ordinal));
        var first = cut.Find("[data-testid='active-migrations']").TextContent;
        cut.WaitForAssertion(() => Assert.NotEqual(first, cut.Find("[data-testid='active-migrations']").TextContent), TimeSpan.FromSeconds(5));

        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(10));
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid='active-migrations']")));
    }
}
