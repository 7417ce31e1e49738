using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Tests.Engine;
using Xunit.Abstractions;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>The console sends XBZRLE deltas to a real QEMU 7.2 destination, which decodes them against its own RAM.</summary>
[Collection(TimingCollection.Name)]
public sealed class QemuXbzrleOutgoingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    /// <remarks>
    /// A 16 MiB microvm with 8 MiB of data whose guest writes one word at a time into those 8 MiB at 2,000 pages/s (80%
    /// into a hot fifth), migrated at 4 MiB/s on a fake clock (see <see cref="MigrationClock.RunUntilAsync"/>): the
    /// first pass takes about two seconds, the second fills the cache, the third and the last send the pages dirtied
    /// again as deltas. The QEMU destination is not told of the capability; it decodes XBZRLE records regardless. The
    /// source stays in postmigrate, its memory as it sent it.
    /// </remarks>
    [Fact]
    public async Task Outgoing_XbzrleWithAHotSet_DeltasSentAndQemusMemoryEqual()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var emulator = new Emulator(clock);
        emulator.AddHost("h1", QemuStreams.HostCapacity);
        var vm = emulator.CreateVm(new VmDefinition("hot", "h1", "microvm", 16 * Sizes.MiB)
        {
            Workload = new WorkloadSpec(WorkloadKind.Hotspot, 2_000, 8 * Sizes.MiB),
            Start = true,
        });
        EngineFixture.FillNonZero(vm, 8 * Sizes.MiB);
        var parameters = MigrationParameters.Default with { MaxBandwidth = 4 * Sizes.MiB, DowntimeLimit = 100, XbzrleCacheSize = 8 * Sizes.MiB };

        var directory = QemuProcess.TempDirectory();
        try
        {
            var socket = $"{directory}/qemu-in.sock";
            await using var qemu = await QemuProcess.StartMicrovmAsync("-incoming", $"unix:{socket}");
            await using var engine = new MigrationEngine(emulator, clock);
            PrecopyMigration? migration = null;
            await MigrationClock.RunUntilAsync(clock, vm, () => migration, () => vm.Workload.PagesWritten >= 500);

            migration = engine.Start(new MigrationRequest("hot")
            {
                Uri = $"unix:{socket}",
                QemuCompatible = true,
                Parameters = parameters,
                Capabilities = MigrationCapabilities.Default with { Xbzrle = true },
            });
            await MigrationClock.RunUntilAsync(clock, vm, () => migration, () => migration.Finished.IsCompleted, EngineFixture.Describe);
            await migration.Finished.WaitAsync(Bound);

            Assert.True(migration.Status == MigrationStatus.Completed, EngineFixture.Describe(migration));
            var stats = migration.GetStats();
            var cache = stats.XbzrleCache;
            EngineFixture.Record(output, $"transferred {stats.Transferred}, syncs {stats.DirtySyncCount}, normal {stats.Normal}, duplicate {stats.Duplicate}, xbzrle {cache}");
            Assert.NotNull(cache);
            Assert.True(cache.Pages > 0, $"no XBZRLE page sent: {cache}");
            Assert.Equal(parameters.XbzrleCacheSize, cache.CacheSize);

            await qemu.WaitIncomingDoneAsync();
            Assert.Equal(RunState.PostMigrate, vm.RunState);
            await QemuLiveOptionsTests.AssertSameMemoryAsync(qemu, vm);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
