using Microsoft.Extensions.DependencyInjection;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Server.Api;
using VmConsole.Server.Domain;
using VmConsole.Server.Events;

namespace VmConsole.Server.Tests.Components;

/// <summary>The task log's lines from the events of one migration, given in the order the event path hands them on.</summary>
public sealed class MigrationTaskLogTests : ConsoleComponentContext
{
    public MigrationTaskLogTests() => Emulator.AddHost("host-b", 8 * Sizes.GiB);

    [Fact]
    public async Task TaskLog_PassesThrottleAndSwitchover_ALinePerDirtySyncAndPerAction()
    {
        CreateVm("vm1", memoryMiB: 32);
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Capabilities = MigrationCapabilities.Default with { AutoConverge = true } });
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(30));
        var log = Services.GetRequiredService<MigrationTaskLog>();
        var dto = migration.ToDto();
        var at = DateTimeOffset.UtcNow;

        log.Handle(new MigrationStarted(migration, dto with { Status = "setup" }));
        log.Handle(new MigrationProgressed(migration, at, Stats(MigrationStatus.Active, sync: 1, throttle: 0), dto));
        log.Handle(new MigrationProgressed(migration, at, Stats(MigrationStatus.Active, sync: 2, throttle: 0), dto));
        log.Handle(new MigrationProgressed(migration, at, Stats(MigrationStatus.Active, sync: 5, throttle: 20), dto));
        log.Handle(new MigrationStatusChanged(migration, MigrationStatus.Device, at, Stats(MigrationStatus.Device, sync: 5, throttle: 20), dto with { Status = "device" }));
        log.Handle(new MigrationStatusChanged(migration, MigrationStatus.Completed, at, Stats(MigrationStatus.Completed, sync: 6, throttle: 20), dto with { Status = "completed", Downtime = 1546, TotalTime = 10_000 }));

        var lines = await log.ReadAsync(migration.Id, CancellationToken.None);
        Assert.Collection(
            lines,
            l => Assert.StartsWith("Started: vm1 from host-a to host-b", l.Text, StringComparison.Ordinal),
            l => Assert.Equal(("pass", "Pass 1 done (dirty sync 2): sent 8 MiB, 512 dirty pages (2 MiB) to send"), (l.Kind, l.Text[..l.Text.IndexOf(", dirty rate", StringComparison.Ordinal)])),
            l => Assert.StartsWith("Passes 2–4 done (dirty syncs 3–5)", l.Text, StringComparison.Ordinal),
            l => Assert.Equal(("action", "auto-converge: CPU throttle 0 % → 20 %"), (l.Kind, l.Text)),
            l => Assert.StartsWith("Switchover: the guest stopped", l.Text, StringComparison.Ordinal),
            l => Assert.StartsWith("Last sync, guest stopped (dirty sync 6)", l.Text, StringComparison.Ordinal),
            l => Assert.Equal("Completed in 10 s, downtime 1,546 ms exceeded the 300 ms limit: vm1 now runs on host-b", l.Text));
        Assert.Contains("throttle 20 %, expected downtime 250 ms", lines[2].Text, StringComparison.Ordinal);
        Assert.Contains("migrate_set_capability auto-converge on", lines[0].Hmp);
    }

    private static MigrationStats Stats(MigrationStatus status, long sync, int throttle) => new()
    {
        Status = status,
        TotalTime = 10_000,
        Transferred = 8 * Sizes.MiB,
        Remaining = 2 * Sizes.MiB,
        Total = 32 * Sizes.MiB,
        DirtySyncCount = sync,
        DirtyPagesRate = 1000,
        ExpectedDowntime = 250,
        CpuThrottlePercentage = throttle,
    };
}
