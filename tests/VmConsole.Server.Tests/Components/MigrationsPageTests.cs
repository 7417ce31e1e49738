using Bunit;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

public sealed class MigrationsPageTests : PersistedConsoleContext
{
    public MigrationsPageTests() => Emulator.AddHost("host-b", 8 * Sizes.GiB);

    [Fact]
    public async Task MigrationsPage_MigrationAlreadyRunningWhenOpened_FollowsItToCompleted()
    {
        CreateVm("vm1", memoryMiB: 16);
        var migration = Engine.Start(new MigrationRequest("vm1")
        {
            DestinationHost = "host-b",
            Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true },
        });
        await WaitForAsync(() => migration.Status == MigrationStatus.PreSwitchover);

        var cut = Render<MigrationsPage>();
        cut.WaitForAssertion(() => Assert.Contains("pre-switchover", StatusOf(cut, migration.Id), StringComparison.Ordinal));

        migration.Continue();

        cut.WaitForAssertion(() => Assert.Equal("completed", StatusOf(cut, migration.Id)), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task MigrationsPage_FilterByVm_ListsOnlyThatVmsMigrations()
    {
        CreateVm("vm1", memoryMiB: 16);
        CreateVm("vm2", memoryMiB: 16);
        var first = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" });
        var second = Engine.Start(new MigrationRequest("vm2") { DestinationHost = "host-b" });
        await Task.WhenAll(first.Finished, second.Finished).WaitAsync(TimeSpan.FromSeconds(30));
        var cut = Render<MigrationsPage>();
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid='migrations-table'] tbody tr").Count));

        await cut.InvokeAsync(() => cut.FindComponent<MudBlazor.MudTextField<string>>().Instance.ValueChanged.InvokeAsync("vm2"));

        cut.WaitForAssertion(() =>
        {
            var rows = cut.FindAll("[data-testid='migrations-table'] tbody tr");
            Assert.Single(rows);
            Assert.Contains(second.Id, rows[0].TextContent, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task MigrationsPage_Row_ShowsPercentAndEtaWhileRunningThenAHundredPercent()
    {
        CreateVm("vm1", memoryMiB: 16);
        var migration = Engine.Start(new MigrationRequest("vm1")
        {
            DestinationHost = "host-b",
            Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true },
        });
        await WaitForAsync(() => migration.Status == MigrationStatus.PreSwitchover);

        var cut = Render<MigrationsPage>();
        cut.WaitForAssertion(() => Assert.Matches(@"^\d+ % · ETA (about .+|—)$", ProgressOf(cut, migration.Id)));

        migration.Continue();

        cut.WaitForAssertion(() => Assert.Equal("100 %", ProgressOf(cut, migration.Id)), TimeSpan.FromSeconds(20));
        Assert.Matches(@"^\d+(\.\d)? (ms|s)$", Row(cut, migration.Id).QuerySelector("[data-label='Total time']")!.TextContent.Trim());
    }

    private static AngleSharp.Dom.IElement Row(IRenderedComponent<MigrationsPage> cut, string id) =>
        cut.FindAll("[data-testid='migrations-table'] tbody tr").Single(r => r.TextContent.Contains(id, StringComparison.Ordinal));

    private static string ProgressOf(IRenderedComponent<MigrationsPage> cut, string id) =>
        Row(cut, id).QuerySelector("[data-testid='migration-row-progress']")!.TextContent.Trim();

    private static string StatusOf(IRenderedComponent<MigrationsPage> cut, string id) =>
        cut.FindAll("[data-testid='migrations-table'] tbody tr").Single(r => r.TextContent.Contains(id, StringComparison.Ordinal))
            .QuerySelector(".mud-chip")!.TextContent.Trim();

    private static Task WaitForAsync(Func<bool> condition) => Eventually.Until(condition, TimeSpan.FromSeconds(20));
}
