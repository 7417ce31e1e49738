using System.Collections.Concurrent;
using System.Diagnostics;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Workloads;
using Xunit.Abstractions;
using static VmConsole.Emulation.Sizes;
using static VmConsole.Emulation.Tests.FreezeMutator;

namespace VmConsole.Emulation.Tests;

public sealed class FreezeConcurrencyTests(ITestOutputHelper output)
{
    private const int Mutators = 4;
    private static readonly TimeSpan RunFor = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MaxRunFor = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan JoinWithin = TimeSpan.FromSeconds(45);

    /// <summary>
    /// How often each operation comes up. A ROM reload rewrites up to 2 MiB under the VM's gate, so it is rarer,
    /// leaving the gate free often enough for the lease holder.
    /// </summary>
    private static readonly Op[] Mix =
    [
        Op.SetMigratable, Op.SetMigratable, Op.UnsetMigratable, Op.UnsetMigratable, Op.AddBackend, Op.AddBackend, Op.FreeBlock,
        Op.FreeBlock, Op.PlugDimm, Op.PlugDimm, Op.UnplugDimm, Op.UnplugDimm, Op.Resize, Op.Resize, Op.ReloadRom, Op.GuestWrite,
        Op.GuestWrite,
    ];

    [Fact]
    public void Mutations_RacingRepeatedLeases_MigratableSetNeverChangesWhileLeased()
    {
        using var test = new TestEmulator();
        var vm = test.CreateQ35("hammered", slots: 8, maxMemBytes: 4 * GiB, workload: new WorkloadSpec(WorkloadKind.Uniform, 20_000, 16 * MiB), start: true);
        var tally = new Tally();
        var violations = new ConcurrentQueue<string>();
        var leaseFailures = new ConcurrentQueue<Exception>();
        var leases = 0;
        var setReads = 0;
        var clock = Stopwatch.StartNew();

        // At least RunFor, and on a loaded machine longer (up to MaxRunFor) until the race has covered what the
        // assertions below need: with every core busy, a fixed two seconds once took only 19 leases.
        bool Enough() =>
            Volatile.Read(ref leases) > 20 && Volatile.Read(ref setReads) > 100 && tally.FrozenRefusals > 0
            && tally.Succeeded.GetValueOrDefault(Op.PlugDimm) + tally.Succeeded.GetValueOrDefault(Op.UnplugDimm) > 0
            && tally.Succeeded.GetValueOrDefault(Op.Resize) > 0 && tally.Succeeded.GetValueOrDefault(Op.UnsetMigratable) > 0;
        bool Running() => clock.Elapsed < RunFor || (clock.Elapsed < MaxRunFor && !Enough());

        var threads = Enumerable.Range(0, Mutators)
            .Select(i => new Thread(() => Mutate(vm, Mix, i, tally, Running, ConsoleResizes.AnyPageCount)) { IsBackground = true, Name = $"mutator {i}" })
            .ToList();
        threads.Add(new Thread(() =>
        {
            var n = 0;
            while (Running())
            {
                var holder = new TestLeaseHolder($"mig-{++n}");
                MigrationLease lease;
                try
                {
                    lease = vm.Freeze.Acquire(holder);
                }
                catch (Exception exception)
                {
                    leaseFailures.Enqueue(exception);
                    return;
                }

                Interlocked.Increment(ref leases);
                var held = Stopwatch.StartNew();
                for (var read = 0; read < 5 || held.ElapsedMilliseconds < 3; read++)
                {
                    // What a migration worker sees: the set through the gate, and the published blocks without it.
                    var viaGate = vm.MigratableSet;
                    var lockFree = vm.RamBlocks.Select(b => b.Identity).OfType<MigratableIdentity>().ToList();
                    Interlocked.Increment(ref setReads);
                    if (!viaGate.SequenceEqual(lease.MigratableSet) || !lockFree.SequenceEqual(lease.MigratableSet))
                    {
                        violations.Enqueue($"lease {holder.MigrationId}: at acquire [{string.Join("; ", lease.MigratableSet)}], now [{string.Join("; ", viaGate)}], lock-free [{string.Join("; ", lockFree)}]");
                    }

                    Thread.Yield();
                }

                lease.Dispose();
                Thread.Sleep(1);
            }
        })
        { IsBackground = true, Name = "lease holder" });

        threads.ForEach(t => t.Start());
        var stuck = threads.Where(t => !t.Join(MaxRunFor + JoinWithin)).Select(t => t.Name).ToList();

        output.WriteLine($"{leases} leases, {setReads} reads under a lease; {tally}");
        Assert.Empty(stuck);
        Assert.Empty(violations);
        Assert.Empty(leaseFailures);
        Assert.Empty(tally.Unexpected);
        Assert.True(leases > 20, $"Only {leases} leases were taken.");
        Assert.True(setReads > 100, $"Only {setReads} reads of the set under a lease.");
        Assert.True(tally.FrozenRefusals > 0, "No change was refused by the freeze: the test did not race.");
        var setChanges = tally.Succeeded.GetValueOrDefault(Op.PlugDimm) + tally.Succeeded.GetValueOrDefault(Op.UnplugDimm);
        Assert.True(setChanges > 0, $"No device was plugged or unplugged; successes: {string.Join(", ", tally.Succeeded)}; refusals: {string.Join(", ", tally.RefusedByCode)}.");
        Assert.True(tally.Succeeded.GetValueOrDefault(Op.Resize) > 0 && tally.Succeeded.GetValueOrDefault(Op.UnsetMigratable) > 0);
        Assert.True(vm.Workload.PagesWritten > 0);
        Assert.False(vm.Freeze.IsFrozen);
    }

    [Fact]
    public void Acquire_RacingAChange_EitherTheChangeIsInTheLeaseOrItWasRefused()
    {
        using var test = new TestEmulator();
        var vm = test.CreateQ35("racy");
        var rounds = 0;
        var clock = Stopwatch.StartNew();
        // At least 50 races, and more while half a second lasts: a count, not a rate this machine has to reach.
        while (rounds < 50 || clock.Elapsed < TimeSpan.FromMilliseconds(500))
        {
            rounds++;
            var ram = vm.MainRam;
            var unset = ram.Migratable;
            using var go = new Barrier(2);
            MigrationLease? lease = null;
            Exception? changeFailure = null;
            var changer = new Thread(() =>
            {
                go.SignalAndWait();
                try
                {
                    vm.SetMigratable(ram.Id, !unset);
                }
                catch (MigratableSetFrozenException exception)
                {
                    changeFailure = exception;
                }
            });
            changer.Start();
            go.SignalAndWait();
            lease = vm.Freeze.Acquire(new TestLeaseHolder());
            Assert.True(changer.Join(JoinWithin));

            var inLease = lease.MigratableSet.Any(id => id.IdStr == "pc.ram");
            var nowMigratable = ram.Migratable;
            if (changeFailure is null)
            {
                // The change won: it must have landed before the lease, so the lease shows it.
                Assert.Equal(!unset, inLease);
            }
            else
            {
                Assert.Equal(unset, inLease);
            }

            Assert.Equal(inLease, nowMigratable);
            lease.Dispose();
        }
    }

    [Fact]
    public void RamBlockRead_DuringRepeatedReloadRom_AlwaysSeesFirmwareNeverThrows()
    {
        using var test = new TestEmulator();
        var vm = test.CreateQ35("reloading");
        var bios = vm.RamBlocks.Single(b => b.IdStr == "pc.bios");
        var expected = new byte[64];
        bios.Read(bios.UsedLength - 64, expected);
        var wrong = new ConcurrentQueue<string>();
        var reads = 0;
        var reloads = 0;
        var clock = Stopwatch.StartNew();
        // A second, and longer on a machine that starves one thread until both have done enough to race.
        bool Running() => clock.Elapsed < TimeSpan.FromSeconds(1)
            || ((Volatile.Read(ref reads) <= 100 || Volatile.Read(ref reloads) <= 10) && clock.Elapsed < TimeSpan.FromSeconds(30));

        var reader = new Thread(() =>
        {
            var read = new byte[64];
            while (Running())
            {
                try
                {
                    // The last bytes of the image: written last by a reload.
                    bios.Read(bios.UsedLength - 64, read);
                    Interlocked.Increment(ref reads);
                    if (!read.AsSpan().SequenceEqual(expected))
                    {
                        wrong.Enqueue($"read {Convert.ToHexString(read)}");
                    }
                }
                catch (Exception exception)
                {
                    wrong.Enqueue(exception.GetType().Name + ": " + exception.Message);
                }
            }
        });
        var reloader = new Thread(() =>
        {
            while (Running())
            {
                vm.ReloadRom(bios.Id);
                Interlocked.Increment(ref reloads);
            }
        });
        reader.Start();
        reloader.Start();

        Assert.True(reader.Join(JoinWithin) && reloader.Join(JoinWithin));
        Assert.True(reads > 100 && reloads > 10, $"{reads} reads, {reloads} reloads");
        Assert.Empty(wrong.Take(5));
        Assert.Empty(wrong);
    }
}
