using System.Collections.Concurrent;
using System.Diagnostics;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using Xunit.Abstractions;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

public sealed class FreezeConcurrencyTests(ITestOutputHelper output)
{
    private const int Mutators = 4;
    private static readonly TimeSpan RunFor = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan JoinWithin = TimeSpan.FromSeconds(15);

    private enum Op
    {
        SetMigratable,
        UnsetMigratable,
        AddBackend,
        FreeBlock,
        PlugDimm,
        UnplugDimm,
        Resize,
        ReloadRom,
        GuestWrite,
    }

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

    /// <summary>What the mutators saw, per operation: successes and refusals by code.</summary>
    private sealed class Tally
    {
        public ConcurrentDictionary<Op, int> Succeeded { get; } = new();

        public ConcurrentDictionary<string, int> RefusedByCode { get; } = new();

        public ConcurrentQueue<Exception> Unexpected { get; } = new();

        public int FrozenRefusals => RefusedByCode.GetValueOrDefault(MigratableSetFrozenException.ErrorCode);

        public void Run(Op op, Action action)
        {
            try
            {
                action();
                Succeeded.AddOrUpdate(op, 1, (_, n) => n + 1);
            }
            catch (MigratableSetFrozenException frozen) when (frozen.Block is null || frozen.MigrationStatus.Length == 0)
            {
                Unexpected.Enqueue(frozen);
            }
            catch (EmulationException refused)
            {
                RefusedByCode.AddOrUpdate(refused.Code, 1, (_, n) => n + 1);
            }
            catch (Exception other)
            {
                Unexpected.Enqueue(other);
            }
        }
    }

    private static void Mutate(Vm vm, int thread, Tally tally, Func<bool> running)
    {
        var random = new Random(thread * 7919);
        T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];
        while (running())
        {
            var blocks = vm.RamBlocks;
            var op = Mix[random.Next(Mix.Length)];
            switch (op)
            {
                case Op.SetMigratable:
                    tally.Run(op, () => vm.SetMigratable(Pick(blocks).Id, true));
                    break;
                case Op.UnsetMigratable:
                    tally.Run(op, () => vm.SetMigratable(Pick(blocks).Id, false));
                    break;
                case Op.AddBackend:
                    tally.Run(op, () => vm.AddMemoryBackend($"m{thread}-{random.Next(4)}", 4 * MiB));
                    break;
                case Op.FreeBlock:
                    tally.Run(op, () => vm.FreeBlock(Pick(blocks).Id));
                    break;
                case Op.PlugDimm:
                    var backends = blocks.Where(b => b.BackendId is not null).Select(b => b.BackendId!).ToList();
                    if (backends.Count > 0)
                    {
                        tally.Run(op, () => vm.PlugDimm($"d{thread}-{random.Next(3)}", Pick(backends)));
                    }

                    break;
                case Op.UnplugDimm:
                    var devices = vm.Devices;
                    if (devices.Length > 0)
                    {
                        tally.Run(op, () => vm.UnplugDimm(Pick(devices).Id));
                    }

                    break;
                case Op.Resize:
                    var resizeable = blocks.Where(b => b.Resizeable).ToList();
                    var block = Pick(resizeable);
                    tally.Run(op, () => vm.Resize(block.Id, (1 + random.Next((int)(block.MaxLength / 4096))) * 4096L));
                    break;
                case Op.ReloadRom:
                    var roms = blocks.Where(b => b.ReadOnly).ToList();
                    tally.Run(op, () => vm.ReloadRom(Pick(roms).Id));
                    break;
                default:
                    tally.Run(op, () => vm.WriteGuest(random.NextInt64(16 * MiB / 64) * 64, BitConverter.GetBytes(random.NextInt64())));
                    break;
            }

            // The gate is not fair: without a pause now and then, four mutators can starve the lease holder.
            if (random.Next(16) == 0)
            {
                Thread.Sleep(1);
            }
        }
    }

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
        bool Running() => clock.Elapsed < RunFor;

        var threads = Enumerable.Range(0, Mutators)
            .Select(i => new Thread(() => Mutate(vm, i, tally, Running)) { IsBackground = true, Name = $"mutator {i}" })
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

                leases++;
                var held = Stopwatch.StartNew();
                for (var read = 0; read < 5 || held.ElapsedMilliseconds < 3; read++)
                {
                    // What a migration worker sees: the set through the gate, and the published blocks without it.
                    var viaGate = vm.MigratableSet;
                    var lockFree = vm.RamBlocks.Select(b => b.Identity).OfType<MigratableIdentity>().ToList();
                    setReads++;
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
        var stuck = threads.Where(t => !t.Join(JoinWithin)).Select(t => t.Name).ToList();

        output.WriteLine($"{leases} leases, {setReads} reads under a lease; succeeded: {string.Join(", ", tally.Succeeded.OrderBy(p => p.Key))}; refused: {string.Join(", ", tally.RefusedByCode.OrderBy(p => p.Key))}");
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
        while (clock.Elapsed < TimeSpan.FromMilliseconds(500))
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

        Assert.True(rounds > 10);
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
        bool Running() => clock.Elapsed < TimeSpan.FromSeconds(1);

        var reader = new Thread(() =>
        {
            var read = new byte[64];
            while (Running())
            {
                try
                {
                    // The last bytes of the image: written last by a reload.
                    bios.Read(bios.UsedLength - 64, read);
                    reads++;
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
                reloads++;
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
