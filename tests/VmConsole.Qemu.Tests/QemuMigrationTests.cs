using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Migration.Wire;
using VmConsole.Qemu.Guests;
using VmConsole.Qemu.Migrations;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Tests;

/// <summary>QEMU-to-QEMU live migrations of the sweep guest between two runtime directories ("hosts"); every process ends.</summary>
public sealed class QemuMigrationTests : IAsyncLifetime
{
    private static readonly SweepGuest Sweep = new(2 * Sizes.MiB, 66 * Sizes.MiB);
    private readonly string _directory = QemuProcess.TempDirectory();
    private readonly QemuLauncher _launcher = new(QemuLauncher.FindBinary() ?? QemuLauncher.DefaultBinary);
    private readonly MigrationRegistry _registry = new();
    private readonly List<int> _pids = [];
    private readonly List<QemuVm> _vms = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            foreach (var migration in _registry.All)
            {
                try
                {
                    migration.Cancel();
                }
                catch (DomainException refused) when (refused.Code == ErrorCodes.PostcopyNotCancellable)
                {
                    // Past the point of no return it can only complete: the wait below is all there is to do.
                }

                try
                {
                    await migration.Finished.WaitAsync(TimeSpan.FromSeconds(60));
                }
                finally
                {
                    // The VM after a completion, or a destination a migration that did not end in time still has.
                    if (migration is QemuMigration { Destination: { } destination })
                    {
                        _vms.Add(destination);
                    }
                }
            }
        }
        finally
        {
            // Even when a migration did not end in time: every QEMU this test started goes.
            foreach (var vm in _vms)
            {
                _pids.Add(vm.Pid);
                vm.Kill();
                await vm.DisposeAsync();
            }
        }

        foreach (var pid in _pids)
        {
            await Eventually.Until(() => !QemuInstance.IsProcessAlive(pid), TimeSpan.FromSeconds(30), () => $"QEMU pid {pid} outlived its test");
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Migrate_SweepGuestWithAutoConverge_CompletesAndTheDestinationKeepsTheInvariant()
    {
        var source = await StartSourceAsync("sweep-1");

        var migration = await StartMigrationAsync(source, MigrationParameters.Default with { MaxBandwidth = Sizes.GiB }, MigrationCapabilities.Default with { AutoConverge = true });
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        Assert.Equal(MigrationStatus.Setup, migration.Events[0].Status);
        Assert.Contains(migration.Events, e => e.Status == MigrationStatus.Active);
        Assert.Equal(MigrationStatus.Completed, migration.Events[^1].Status);
        var stats = migration.GetStats();
        Assert.True(stats.Transferred > 0 && stats.Total > 0, $"transferred {stats.Transferred} of {stats.Total}");
        Assert.Same(migration, _registry.Find(migration.Id));

        var destination = migration.Destination!;
        await Eventually.Until(() => !QemuInstance.IsProcessAlive(source.Pid), TimeSpan.FromSeconds(30), () => "the postmigrate source was not quit");
        Assert.Equal(RunState.Running, destination.RunState);
        Assert.Null(migration.MigratableSetDifference);
        Assert.Null(migration.GetStats().ErrorDesc);
        Assert.Null(SweepGuest.Check(await FirstBytesAsync(destination)));
    }

    /// <summary>
    /// A guest that dirties faster than the bandwidth lets precopy converge finishes in postcopy: the destination runs it
    /// while it pulls the pages it lacks, the source quits, and the memory keeps the invariant.
    /// </summary>
    [Fact]
    public async Task StartPostcopy_SweepGuestThatDoesNotConverge_PostcopyActiveThenCompletedAndTheDestinationKeepsTheInvariant()
    {
        Assert.Null(QemuMigration.CheckPostcopySupport());
        var source = await StartSourceAsync("postcopy-1");
        // A downtime limit of 1 ms at 32 MiB/s lets precopy converge only below 8 dirty pages, which the sweep never leaves,
        // however little CPU a busy machine gives it: precopy cannot finish on its own, whatever the machine's speed.
        var migration = await StartMigrationAsync(source, MigrationParameters.Default with { MaxBandwidth = 32 * Sizes.MiB, DowntimeLimit = 1 }, MigrationCapabilities.Default with { PostcopyRam = true });
        // A first pass over the guest's memory as QEMU's own postcopy test waits for it.
        await Eventually.Until(() => migration.GetStats().DirtySyncCount >= 2 || migration.Status.IsFinal(), TimeSpan.FromSeconds(60), () => $"{migration.Status}, {migration.GetStats().DirtySyncCount} syncs");
        Assert.Equal(MigrationStatus.Active, migration.Status);

        await migration.StartPostcopyAsync();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        var states = migration.Events.Select(e => e.Status).ToList();
        Assert.True(states.IndexOf(MigrationStatus.Active) < states.IndexOf(MigrationStatus.PostcopyActive), string.Join(", ", states));
        Assert.Equal(MigrationStatus.Completed, states[^1]);
        Assert.Null(migration.MigratableSetDifference);
        var destination = migration.Destination!;
        await Eventually.Until(() => !QemuInstance.IsProcessAlive(source.Pid), TimeSpan.FromSeconds(30), () => "the postmigrate source was not quit");
        Assert.Equal(RunState.Running, destination.RunState);
        Assert.Null(SweepGuest.Check(await FirstBytesAsync(destination)));
    }

    [Fact]
    public async Task StartPostcopy_WithoutThePostcopyCapability_RefusedAndThePrecopyGoesOn()
    {
        var source = await StartSourceAsync("postcopy-2");
        var migration = await StartMigrationAsync(source, MigrationParameters.Default with { MaxBandwidth = 4 * Sizes.MiB }, MigrationCapabilities.Default);
        await Eventually.Until(() => migration.Status == MigrationStatus.Active, TimeSpan.FromSeconds(60), () => $"{migration.Status}");

        var refused = await Assert.ThrowsAsync<DomainException>(() => migration.StartPostcopyAsync());

        Assert.Equal((ErrorKind.Conflict, ErrorCodes.PostcopyNotEnabled), (refused.Kind, refused.Code));
        Assert.Contains("postcopy-ram", refused.Message, StringComparison.Ordinal);
        Assert.Equal(MigrationStatus.Active, migration.Status);
        Assert.DoesNotContain(migration.Events, e => e.Status == MigrationStatus.PostcopyActive);
        // Cancelling is still possible: the migration never passed the point of no return.
        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(MigrationStatus.Cancelled, migration.Status);
    }

    /// <summary>Once postcopy has started the destination runs the guest: a cancel would lose it, so it is refused and the migration completes.</summary>
    [Fact]
    public async Task Cancel_AfterPostcopyStarted_RefusedAndTheMigrationCompletes()
    {
        var source = await StartSourceAsync("postcopy-3");
        var migration = await StartMigrationAsync(source, MigrationParameters.Default with { MaxBandwidth = 32 * Sizes.MiB }, MigrationCapabilities.Default with { PostcopyRam = true });
        await Eventually.Until(() => migration.Status == MigrationStatus.Active, TimeSpan.FromSeconds(60), () => $"{migration.Status}");
        await migration.StartPostcopyAsync();

        var refused = Assert.Throws<DomainException>(migration.Cancel);
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(ErrorCodes.PostcopyNotCancellable, refused.Code);
        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        Assert.Null(SweepGuest.Check(await FirstBytesAsync(migration.Destination!)));
    }

    /// <summary>
    /// XBZRLE (with its cache, whose figures QEMU reports) and multifd with four channels, raw or compressed (the
    /// destination told the same compression), move the same guest just as well.
    /// </summary>
    [Theory]
    [InlineData("xbzrle", MultifdCompression.None)]
    [InlineData("multifd", MultifdCompression.None)]
    [InlineData("multifd", MultifdCompression.Zlib)]
    [InlineData("multifd", MultifdCompression.Zstd)]
    public async Task Migrate_WithXbzrleOrMultifd_CompletesAndTheDestinationKeepsTheInvariant(string capability, MultifdCompression compression)
    {
        var source = await StartSourceAsync($"sweep-{capability}-{compression.ToQemuName()}");
        var capabilities = MigrationCapabilities.Default with { AutoConverge = true, Xbzrle = capability == "xbzrle", Multifd = capability == "multifd" };
        var parameters = MigrationParameters.Default with
        {
            MaxBandwidth = Sizes.GiB, MultifdChannels = 4, XbzrleCacheSize = 16 * Sizes.MiB, MultifdCompression = compression, MultifdZlibLevel = 2, MultifdZstdLevel = 2,
        };

        var migration = await StartMigrationAsync(source, parameters, capabilities);
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        Assert.Null(migration.MigratableSetDifference);
        Assert.Null(SweepGuest.Check(await FirstBytesAsync(migration.Destination!)));
        Assert.Equal(capability == "xbzrle" ? 16 * Sizes.MiB : null, migration.GetStats().XbzrleCache?.CacheSize);
    }

    [Fact]
    public async Task Migrate_PauseBeforeSwitchover_WaitsThereUntilContinue()
    {
        var source = await StartSourceAsync("sweep-2");
        var migration = await StartMigrationAsync(source, MigrationParameters.Default with { MaxBandwidth = Sizes.GiB }, MigrationCapabilities.Default with { PauseBeforeSwitchover = true, AutoConverge = true });

        await Eventually.Until(() => migration.Status == MigrationStatus.PreSwitchover || migration.Status.IsFinal(), TimeSpan.FromSeconds(120), () => $"{migration.Status}");
        Assert.Equal(MigrationStatus.PreSwitchover, migration.Status);
        Assert.Equal(RunState.FinishMigrate, (await RefreshedAsync(source)).RunState);
        Assert.Equal("finish-migrate", source.QemuStatus);

        // QEMU 7.2 would take cont here and run the guest while its last pages are on the way: the console refuses.
        var refused = await Assert.ThrowsAsync<DomainException>(() => source.ResumeAsync());
        Assert.Contains("while it is finish-migrate: its migration has stopped the guest to switch over", refused.Message, StringComparison.Ordinal);
        Assert.Equal("finish-migrate", (await RefreshedAsync(source)).QemuStatus);

        await migration.ContinueAsync();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(MigrationStatus.Completed, migration.Status);
        Assert.Contains(migration.Events, e => e.Status == MigrationStatus.PreSwitchover);
        Assert.Null(SweepGuest.Check(await FirstBytesAsync(migration.Destination!)));
    }

    [Fact]
    public async Task Cancel_WhileActive_CancelledWithTheSourceRunningAndNoDestinationLeft()
    {
        var source = await StartSourceAsync("sweep-3");
        var migration = await StartMigrationAsync(source, MigrationParameters.Default with { MaxBandwidth = 4 * Sizes.MiB }, MigrationCapabilities.Default);
        await Eventually.Until(() => migration.Status == MigrationStatus.Active, TimeSpan.FromSeconds(60), () => $"{migration.Status}");
        var destinationPid = migration.Destination!.Pid;

        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(MigrationStatus.Cancelled, migration.Status);
        Assert.Equal(RunState.Running, (await RefreshedAsync(source)).RunState);
        Assert.Null(migration.Destination);
        await Eventually.Until(() => !QemuInstance.IsProcessAlive(destinationPid), TimeSpan.FromSeconds(30), () => "the destination QEMU outlived the cancel");
    }

    [Fact]
    public async Task Cancel_InSetup_CancelledWithTheSourceRunningAndNoDestinationLeft()
    {
        var source = await StartSourceAsync("sweep-4");
        var migration = await StartMigrationAsync(source, MigrationParameters.Default with { MaxBandwidth = 4 * Sizes.MiB }, MigrationCapabilities.Default);
        var destinationPid = migration.Destination!.Pid;

        // At once, before the console has seen QEMU leave setup.
        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(MigrationStatus.Cancelled, migration.Status);
        Assert.Equal(MigrationStatus.Setup, migration.Events[0].Status);
        Assert.Contains(migration.Events, e => e.Status == MigrationStatus.Cancelling);
        Assert.Equal(RunState.Running, (await RefreshedAsync(source)).RunState);
        Assert.Null(migration.Destination);
        await Eventually.Until(() => !QemuInstance.IsProcessAlive(destinationPid), TimeSpan.FromSeconds(30), () => "the destination QEMU outlived the cancel");
    }

    [Fact]
    public async Task Cancel_AtPreSwitchover_CancelledWithTheSourceRunningAgainAndNoDestinationLeft()
    {
        var source = await StartSourceAsync("sweep-5");
        var migration = await StartMigrationAsync(source, MigrationParameters.Default with { MaxBandwidth = Sizes.GiB }, MigrationCapabilities.Default with { PauseBeforeSwitchover = true, AutoConverge = true });
        await Eventually.Until(() => migration.Status == MigrationStatus.PreSwitchover || migration.Status.IsFinal(), TimeSpan.FromSeconds(120), () => $"{migration.Status}");
        Assert.Equal(MigrationStatus.PreSwitchover, migration.Status);
        var destinationPid = migration.Destination!.Pid;

        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(MigrationStatus.Cancelled, migration.Status);
        // QEMU stopped the guest at pre-switchover; cancelling gives it back to the source.
        await Eventually.UntilAsync(async () => (await RefreshedAsync(source)).RunState == RunState.Running, TimeSpan.FromSeconds(30), () => $"the source is {source.RunState}");
        Assert.Null(migration.Destination);
        await Eventually.Until(() => !QemuInstance.IsProcessAlive(destinationPid), TimeSpan.FromSeconds(30), () => "the destination QEMU outlived the cancel");
    }

    /// <summary>The freeze in front of QEMU: what would change the migratable set is refused, the rest goes through.</summary>
    [Fact]
    public async Task Freeze_DuringAMigration_RefusesDimmsAndUsedBackendsAllowsUnusedOnes()
    {
        // Firmware only (an idle vCPU leaves QEMU's main loop free for hotplug on a loaded machine), held at
        // pre-switchover, where the migration waits for as long as the test needs.
        var source = await StartSourceAsync("frozen-1", slots: true, guest: false);
        var migration = await StartMigrationAsync(source, MigrationParameters.Default, MigrationCapabilities.Default with { PauseBeforeSwitchover = true });
        await Eventually.Until(() => migration.Status == MigrationStatus.PreSwitchover, TimeSpan.FromSeconds(60), () => $"{migration.Status}");

        await source.Memory.AddBackendAsync("spare2", 32 * Sizes.MiB);
        var plug = await Assert.ThrowsAsync<VmConsole.Emulation.Freeze.MigratableSetFrozenException>(() => source.Memory.PlugDimmAsync("dimm2", "spare2"));
        Assert.Equal((migration.Id, "spare2"), (plug.MigrationId, plug.Block));
        await Assert.ThrowsAsync<VmConsole.Emulation.Freeze.MigratableSetFrozenException>(() => source.Memory.UnplugDimmAsync("dimm1"));
        await Assert.ThrowsAsync<VmConsole.Emulation.Freeze.MigratableSetFrozenException>(() => source.Memory.RemoveBackendAsync("mem1"));
        var second = await Assert.ThrowsAsync<VmConsole.Emulation.Freeze.MigratableSetFrozenException>(() => StartMigrationAsync(source, MigrationParameters.Default, MigrationCapabilities.Default));
        Assert.Equal(ErrorCodes.MigratableSetFrozen, second.Code);
        await source.Memory.RemoveBackendAsync("spare2");

        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(MigrationStatus.Cancelled, migration.Status);
        await source.Memory.AddBackendAsync("mem2", 64 * Sizes.MiB);
        await source.Memory.PlugDimmAsync("dimm2", "mem2");
        Assert.Contains(await source.RamBlocksAsync(), b => b is { IdStr: "mem2", DeviceId: "dimm2", Migratable: true });
    }

    [Fact]
    public async Task Memory_WithoutAMigration_AddPlugAndAnUnplugTheGuestDoesNotAnswer()
    {
        var vm = await StartSourceAsync("memory-1", slots: true, guest: false);

        await vm.Memory.AddBackendAsync("mem2", 64 * Sizes.MiB);
        Assert.Contains(await vm.RamBlocksAsync(), b => b is { IdStr: "", BackendId: "mem2", Migratable: false });
        await vm.Memory.PlugDimmAsync("dimm2", "mem2");
        Assert.Contains(await vm.RamBlocksAsync(), b => b is { IdStr: "mem2", DeviceId: "dimm2", Migratable: true });
        Assert.Equal(ErrorCodes.BackendInUse, (await Assert.ThrowsAsync<DomainException>(() => vm.Memory.RemoveBackendAsync("mem2"))).Code);
        var refused = await Assert.ThrowsAsync<DomainException>(() => vm.Memory.PlugDimmAsync("dimm3", "nothing"));
        Assert.Equal(ErrorCodes.QemuRefused, refused.Code);

        // Firmware alone does not answer the ACPI request: it stays pending, as with a guest that does not cooperate.
        await vm.Memory.UnplugDimmAsync("dimm2");
        Assert.Contains("dimm2", vm.Memory.PendingUnplugs);
    }

    private async Task<QemuVm> StartSourceAsync(string name, bool slots = false, bool guest = true)
    {
        var spec = new QemuVmSpec(name, "q35", 128 * Sizes.MiB) { Guest = guest ? Sweep : null };
        if (slots)
        {
            spec = spec with { Slots = 2, MaxMemBytes = Sizes.GiB, Backends = [new QemuMemoryBackend("mem1", 64 * Sizes.MiB, "dimm1")] };
        }

        var vm = await QemuVm.StartAsync(_launcher, spec, Path.Combine(_directory, "host-a", name));
        _vms.Add(vm);
        _pids.Add(vm.Pid);
        if (guest)
        {
            // Migrated before the firmware has handed over to the sweep, the memory is nearly all zero pages and nothing
            // dirties it: any migration converges at once, however slow it was asked to be. Its last page has been
            // written once the sweep has gone through the range.
            var probe = Path.Combine(vm.RuntimeDirectory, "probe.bin");
            await Eventually.UntilAsync(
                async () =>
                {
                    await vm.Instance.Qmp.ExecuteAsync("pmemsave", new Dictionary<string, object> { ["val"] = Sweep.End - SweepGuest.PageSize, ["size"] = 1, ["filename"] = probe });
                    return (await File.ReadAllBytesAsync(probe))[0] != 0;
                },
                TimeSpan.FromSeconds(60),
                () => $"the sweep guest of {name} never went through its range");
        }

        return vm;
    }

    private Task<QemuMigration> StartMigrationAsync(QemuVm source, MigrationParameters parameters, MigrationCapabilities capabilities) =>
        QemuMigration.StartAsync(source, "host-a", "host-b", _launcher, Path.Combine(_directory, "host-b", source.Name), parameters, capabilities, _registry);

    private static async Task<QemuVm> RefreshedAsync(QemuVm vm)
    {
        await vm.RefreshAsync();
        return vm;
    }

    /// <summary>The first byte of every page of the sweep's range, read with pmemsave while the guest is paused.</summary>
    private static async Task<byte[]> FirstBytesAsync(QemuVm vm)
    {
        var dump = Path.Combine(vm.RuntimeDirectory, "range.bin");
        await vm.PauseAsync();
        await vm.Instance.Qmp.ExecuteAsync("pmemsave", new Dictionary<string, object> { ["val"] = Sweep.Start, ["size"] = Sweep.End - Sweep.Start, ["filename"] = dump });
        var bytes = await File.ReadAllBytesAsync(dump);
        var pages = (int)((Sweep.End - Sweep.Start) / SweepGuest.PageSize);
        var first = Enumerable.Range(0, pages).Select(p => bytes[p * (int)SweepGuest.PageSize]).ToArray();
        Assert.True(first.Any(b => b > 0), "the guest never ran on this end");
        return first;
    }
}
