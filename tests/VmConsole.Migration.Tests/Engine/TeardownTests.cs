using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// Acceptance point 7 (DESIGN.md section 3, case 1): shutting down or deleting a VM while it migrates cancels the
/// migration, waits for its worker, then tears down; nothing throws and nothing half-received is left.
/// </summary>
public sealed class TeardownTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    public static TheoryData<string> States => ["setup", "active", "pre-switchover"];

    [Theory]
    [MemberData(nameof(States))]
    public async Task Shutdown_MidMigration_CancelsItAndShutsTheVmDown(string state)
    {
        await using var fixture = new EngineFixture();
        var (source, migration) = await StartInAsync(fixture, state);

        await source.ShutdownAsync().WaitAsync(Bound);

        Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(migration, Bound));
        Assert.True(migration.Finished.IsCompletedSuccessfully);
        Assert.Null(migration.ErrorDesc);
        Assert.Equal(RunState.Shutdown, source.RunState);
        Assert.Same(source, fixture.Emulator.GetVm("vm1"));
        Assert.False(source.Freeze.IsFrozen);
        Assert.Equal(0, fixture.Emulator.GetHost("host-b").ReservedBytes);
        fixture.AssertNoIncoming();
        fixture.AssertLegalHistory(migration);
        Assert.Equal(MigrationStatus.Cancelling, migration.Events[^2].Status);

        // Shut down, it is refused as such; started again, it migrates.
        Assert.Equal("vm-not-running", Assert.ThrowsAny<DomainException>(() => fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" })).Code);
        source.Start();
        var again = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" });
        Assert.Equal(MigrationStatus.Completed, await EngineFixture.WaitFinishedAsync(again, Bound));
    }

    [Theory]
    [MemberData(nameof(States))]
    public async Task Delete_MidMigration_CancelsItAndRemovesTheVm(string state)
    {
        await using var fixture = new EngineFixture();
        var (_, migration) = await StartInAsync(fixture, state);

        await fixture.Emulator.DeleteVmAsync("vm1").WaitAsync(Bound);

        Assert.Equal(MigrationStatus.Cancelled, await EngineFixture.WaitFinishedAsync(migration, Bound));
        Assert.True(migration.Finished.IsCompletedSuccessfully);
        Assert.Null(migration.ErrorDesc);
        Assert.Equal("vm-not-found", Assert.ThrowsAny<DomainException>(() => fixture.Emulator.GetVm("vm1")).Code);
        Assert.Equal(0, fixture.Emulator.GetHost("host-a").ReservedBytes);
        Assert.Equal(0, fixture.Emulator.GetHost("host-b").ReservedBytes);
        fixture.AssertNoIncoming();
        fixture.AssertLegalHistory(migration);
    }

    /// <summary>
    /// A delete that comes after the switchover's point of no return: the engine finishes the migration (a cancel is
    /// too late) and the delete follows the name, which by then is the destination's (Emulator.DeleteVmAsync removes
    /// only the VM it quiesced). Either outcome below is fine; a running destination left out of the inventory, its
    /// guest running and host-b's memory reserved, is not.
    /// </summary>
    [Fact]
    public async Task Delete_AfterThePointOfNoReturn_LeavesNoOrphanOnTheDestinationHost()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, machine: "microvm");
        Task? delete = null;
        source.Changed += (vm, kind) =>
        {
            if (kind == VmChangeKind.RunState && vm.RunState == RunState.PostMigrate)
            {
                // Runs here, on the worker, up to its wait for the lease: it has looked the VM up and asked to cancel.
                delete = fixture.Emulator.DeleteVmAsync("vm1");
            }
        };

        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" });
        Assert.Equal(MigrationStatus.Completed, await EngineFixture.WaitFinishedAsync(migration, Bound));
        var deleteError = await Record.ExceptionAsync(() => delete!.WaitAsync(Bound));

        var hostB = fixture.Emulator.GetHost("host-b");
        if (fixture.Emulator.TryGetVm("vm1", out var moved))
        {
            // The delete found nothing left to delete, and said so.
            Assert.Equal("vm-not-found", Assert.IsAssignableFrom<DomainException>(deleteError).Code);
            Assert.Equal(hostB, moved.Host);
            Assert.Equal(moved.ReservedBytes, hostB.ReservedBytes);
        }
        else
        {
            // The delete took the VM where it now is.
            Assert.Null(deleteError);
            Assert.Equal(0, hostB.ReservedBytes);
        }

        Assert.Equal(0, fixture.Emulator.GetHost("host-a").ReservedBytes);
        fixture.AssertNoIncoming();
    }

    /// <summary>
    /// Start and shutdown racing: whichever wins, a shut-down VM never ends up migrating (with pause-before-switchover,
    /// such a migration would wait in pre-switchover for ever) and the VM ends shut down.
    /// </summary>
    [Fact]
    public async Task StartAndShutdown_Racing_200Times_NeverMigrateAShutDownVm()
    {
        await using var fixture = new EngineFixture();
        var vm = fixture.CreateVm("vm1", 16, machine: "microvm");
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var run = 0; run < 200; run++)
        {
            using var go = new Barrier(2);
            var start = Task.Run(() =>
            {
                go.SignalAndWait();
                try
                {
                    return (PrecopyMigration?)fixture.Engine.Start(new MigrationRequest("vm1")
                    {
                        DestinationHost = "host-b",
                        Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true },
                    });
                }
                catch (DomainException ex) when (ex.Code is "vm-not-running" or "vm-shutting-down")
                {
                    return null;
                }
            });
            var shutdown = Task.Run(async () =>
            {
                go.SignalAndWait();
                await vm.ShutdownAsync();
            });

            var migration = await start.WaitAsync(Bound);
            await shutdown.WaitAsync(Bound);
            if (migration is not null)
            {
                await Eventually.Until(() => migration.Finished.IsCompleted, Bound, () => $"run {run}: {EngineFixture.Describe(migration)} outlived the shutdown");
                Assert.Equal(MigrationStatus.Cancelled, migration.Status);
                fixture.AssertLegalHistory(migration);
            }

            var outcome = migration is null ? "refused" : "cancelled";
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            Assert.Equal(RunState.Shutdown, vm.RunState);
            Assert.Same(vm, fixture.Emulator.GetVm("vm1"));
            fixture.AssertNoIncoming();
            vm.Start();
        }

        EngineFixture.Record(output, $"start/shutdown race: {string.Join(", ", outcomes.Select(o => $"{o.Value} {o.Key}"))}");
        Assert.Equal(200, outcomes.Values.Sum());
    }

    private static async Task<(Vm Source, PrecopyMigration Migration)> StartInAsync(EngineFixture fixture, string state)
    {
        PrecopyMigration migration;
        switch (state)
        {
            case "setup":
                migration = fixture.StartNeverConverging("vm1");
                break;
            case "active":
                migration = fixture.StartNeverConverging("vm1");
                await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.Active, Bound);
                break;
            default:
                fixture.CreateVm("vm1", 16, machine: "microvm");
                migration = fixture.Engine.Start(new MigrationRequest("vm1")
                {
                    DestinationHost = "host-b",
                    Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true },
                });
                await EngineFixture.WaitForStatusAsync(migration, MigrationStatus.PreSwitchover, Bound);
                break;
        }

        return (fixture.Emulator.GetVm("vm1"), migration);
    }
}
