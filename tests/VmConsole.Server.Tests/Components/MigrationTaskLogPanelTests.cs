using Bunit;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Server.Api;
using VmConsole.Server.Components.Shared;
using VmConsole.Server.Domain;
using VmConsole.Server.Events;

namespace VmConsole.Server.Tests.Components;

/// <summary>The task log panel of the migration page, fed the events the event path would hand the log.</summary>
public sealed class MigrationTaskLogPanelTests : ConsoleComponentContext
{
    public MigrationTaskLogPanelTests() => Emulator.AddHost("host-b", 8 * Sizes.GiB);

    [Fact]
    public async Task TaskLogPanel_StartedThenCancelled_ShowsALinePerActionLiveAndTheCommands()
    {
        CreateVm("vm1", memoryMiB: 32);
        var migration = Engine.Start(new MigrationRequest("vm1")
        {
            DestinationHost = "host-b",
            Parameters = MigrationParameters.Default with { MaxBandwidth = 256 * Sizes.MiB },
            Capabilities = MigrationCapabilities.Default with { AutoConverge = true },
        });
        var log = Services.GetRequiredService<MigrationTaskLog>();
        log.Handle(new MigrationStarted(migration, migration.ToDto()));
        var cut = Render<MigrationTaskLogPanel>(p => p.Add(c => c.MigrationId, migration.Id));
        Assert.Single(cut.FindAll("[data-testid='migration-task-log'] tr"));

        // Cancel requested: the line comes live, without the page asking again.
        log.Handle(new MigrationStatusChanged(migration, MigrationStatus.Cancelling, DateTimeOffset.UtcNow, migration.GetStats(), migration.ToDto()));
        cut.WaitForAssertion(() => Assert.Contains("Cancel requested", cut.Find("[data-testid='migration-task-log']").TextContent, StringComparison.Ordinal));

        await cut.InvokeAsync(() => cut.Find("[data-testid='migration-show-command']").Click());

        var hmp = cut.Find("[data-testid='migration-command-hmp']").TextContent.Split('\n');
        Assert.Contains("migrate_set_capability auto-converge on", hmp);
        Assert.Contains("migrate_set_parameter max-bandwidth 268435456", hmp);
        Assert.Equal("migrate_cancel", hmp[^1]);
        Assert.Contains("\"execute\":\"migrate_cancel\"", cut.Find("[data-testid='migration-command-qmp']").TextContent, StringComparison.Ordinal);

        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));
    }
}
