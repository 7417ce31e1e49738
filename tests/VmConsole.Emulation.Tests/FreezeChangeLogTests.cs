using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Text.RegularExpressions;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using Xunit.Abstractions;
using static VmConsole.Emulation.Sizes;
using static VmConsole.Emulation.Tests.FreezeMutator;

namespace VmConsole.Emulation.Tests;

/// <summary>
/// The freeze under every mutation the VM has (memory operations, power actions, workload changes, guest-initiated
/// resizes, VM delete) while leases come and go, with the migratable set logged at every change event and at every
/// step of every lease, and checked afterwards against the set the lease was taken with.
/// </summary>
public sealed partial class FreezeChangeLogTests(ITestOutputHelper output)
{
    private const int Mutators = 4;

    /// <summary>
    /// Console resizes use even page counts, guest resizes odd ones, so that <see cref="SetLog.Violations"/> can tell
    /// a console resize that slipped past the freeze from a guest resize, which may legally change a leased block.
    /// </summary>
    private const ConsoleResizes Resizes = ConsoleResizes.EvenPageCounts;

    private static readonly TimeSpan RunFor = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan MaxRunFor = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan JoinWithin = TimeSpan.FromSeconds(20);

    private static readonly Op[] EveryOp = Enum.GetValues<Op>();

    /// <summary>
    /// Without shutdown and start: a delete racing a shutdown is refused with <c>vm-shutting-down</c> by design
    /// (TeardownTests covers that), and here the delete must go through while a lease is held.
    /// </summary>
    private static readonly Op[] EveryOpButShutdown = [.. EveryOp.Where(op => op is not Op.Shutdown and not Op.Start)];

    [GeneratedRegex(@"^RAM block '(?<idstr>.+)' resized during precopy\.$")]
    private static partial Regex ResizedDuringPrecopy();

    /// <summary>The migratable set at one moment, and the lease that was held throughout that moment (or null).</summary>
    private sealed record Observation(string When, MigrationLease? Lease, ImmutableArray<MigratableIdentity> Set);

    /// <summary>
    /// Logs the migratable set. The snapshot is race-free with respect to the lease: <see cref="Vm.MigratableSet"/>
    /// is computed under the VM's gate, the gate every mutation and every acquire and release of the lease take, so
    /// it is a consistent cut (never half a device_add). The lease is read before and after it; a lease is set once
    /// (acquire) and cleared once (release) and never set again, so reading the same lease on both sides proves it
    /// was held at the moment the gate was held for the snapshot. Anything else is logged as "no lease" and not
    /// judged.
    /// </summary>
    private sealed class SetLog(Vm vm)
    {
        public ConcurrentQueue<Observation> Observations { get; } = new();

        public void Observe(string when)
        {
            var before = vm.Freeze.Lease;
            var set = vm.MigratableSet;
            var after = vm.Freeze.Lease;
            Observations.Enqueue(new Observation(when, before is not null && ReferenceEquals(before, after) ? before : null, set));
        }

        /// <summary>
        /// Every observation made under a lease must show the set the lease was taken with. The one legal change is a
        /// guest-initiated resize, which cancels the holder with "RAM block 'X' resized during precopy.": then X (and
        /// only X) may differ, in its used length only, and only to a length a guest resize chose (guest resizes use
        /// odd page counts, console resizes even ones, so a console resize that slipped past the freeze still shows).
        /// Judged after every thread has stopped, so every cancel request a guest resize makes has arrived (it is made
        /// after the VM's gate is let go, a moment after the change is visible).
        /// </summary>
        public List<string> Violations()
        {
            var violations = new List<string>();
            foreach (var observation in Observations.Where(o => o.Lease is not null))
            {
                var lease = observation.Lease!;
                var resized = ((TestLeaseHolder)lease.Holder).CancelRequests
                    .Select(error => error is null ? null : ResizedDuringPrecopy().Match(error))
                    .Where(match => match is { Success: true })
                    .Select(match => match!.Groups["idstr"].Value)
                    .ToHashSet(StringComparer.Ordinal);
                if (!SameBarLegalResizes(lease.MigratableSet, observation.Set, resized))
                {
                    violations.Add(
                        $"{lease.Holder.MigrationId} at {observation.When}: leased [{string.Join("; ", lease.MigratableSet)}], " +
                        $"saw [{string.Join("; ", observation.Set)}], guest-resized [{string.Join(", ", resized)}]");
                }
            }

            return violations;
        }

        private static bool SameBarLegalResizes(ImmutableArray<MigratableIdentity> leased, ImmutableArray<MigratableIdentity> seen, HashSet<string> resized)
        {
            if (leased.Length != seen.Length)
            {
                return false;
            }

            for (var i = 0; i < leased.Length; i++)
            {
                var (was, now) = (leased[i], seen[i]);
                if (was == now)
                {
                    continue;
                }

                var legalResize = resized.Contains(was.IdStr) && now == was with { UsedLength = now.UsedLength } && now.UsedLength / Page % 2 == 1;
                if (!legalResize)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>What the lease thread did: leases taken, why they ended early, what went wrong.</summary>
    private sealed class LeaseStats
    {
        public int Leases;
        public int CancelledByGuestResize;
        public int CancelledByTeardown;
        public int RefusedWhileTornDown;
        public readonly ConcurrentQueue<Exception> Failures = new();

        public override string ToString() =>
            $"{Leases} leases, {CancelledByGuestResize} cancelled by a guest resize, {CancelledByTeardown} by a shutdown or delete, {RefusedWhileTornDown} refused during teardown";
    }

    /// <summary>Operations the mutators have made so far, whatever their outcome.</summary>
    private static int Operations(Tally tally) =>
        tally.Succeeded.Values.Sum() + tally.RefusedByCode.Values.Sum() + tally.Unexpected.Count;

    /// <summary>
    /// Takes and releases leases like a cooperating migration: holds each a few milliseconds, or, once
    /// <paramref name="holdUntilCancelled"/> is set, until it is asked to cancel; a cancel request (guest resize,
    /// shutdown, delete) makes it release at once, as a worker that quits does.
    /// </summary>
    private static void HoldLeases(Vm vm, SetLog log, LeaseStats stats, Func<bool> running, ManualResetEventSlim? holdUntilCancelled = null, ManualResetEventSlim? holdingUntilCancelled = null)
    {
        var n = 0;
        while (running())
        {
            var holder = new TestLeaseHolder($"mig-{++n}");
            var untilCancelled = holdUntilCancelled?.IsSet == true;
            try
            {
                holder.AcquireOn(vm);
            }
            catch (DomainException refused) when (refused.Code is "vm-shutting-down" or "vm-not-found")
            {
                stats.RefusedWhileTornDown++;
                Thread.Sleep(1);
                continue;
            }
            catch (Exception exception)
            {
                stats.Failures.Enqueue(exception);
                return;
            }

            stats.Leases++;
            log.Observe($"{holder.MigrationId} acquired");
            if (untilCancelled)
            {
                holdingUntilCancelled!.Set();
            }

            // Held until a cancel request, or a few milliseconds. Holding until a teardown's request (a resize's
            // does not end it then) makes sure the delete meets a lease: the holder lingers in cancelling, as a
            // slow worker may, and the freeze holds all along.
            bool TeardownAsked() => holder.CancelRequests.Any(e => e is null);
            var held = Stopwatch.StartNew();
            for (var read = 0; untilCancelled ? !TeardownAsked() && running() : !holder.CancelRequested.IsSet && (read < 5 || held.ElapsedMilliseconds < 3); read++)
            {
                log.Observe($"{holder.MigrationId} held, read {read}");
                Thread.Yield();
            }

            stats.CancelledByGuestResize += holder.CancelRequests.Any(e => e is not null) ? 1 : 0;
            stats.CancelledByTeardown += TeardownAsked() ? 1 : 0;

            log.Observe($"{holder.MigrationId} releasing");
            holder.Release();
            Thread.Sleep(1);
        }
    }

    [Fact]
    public void EveryMutation_RacingRepeatedLeases_EveryLoggedSetUnderALeaseMatchesItsAcquireBarGuestResizes()
    {
        using var test = new TestEmulator();
        var vm = test.CreateQ35("hammered", slots: 8, maxMemBytes: 4 * GiB, workload: new WorkloadSpec(WorkloadKind.Uniform, 20_000, 16 * MiB), start: true);
        var log = new SetLog(vm);
        var changeEvents = 0;
        vm.Changed += (_, kind) =>
        {
            Interlocked.Increment(ref changeEvents);
            log.Observe($"change event {kind}");
        };
        var tally = new Tally();
        var stats = new LeaseStats();
        var stop = false;
        bool Running() => !Volatile.Read(ref stop);

        var threads = Enumerable.Range(0, Mutators)
            .Select(i => new Thread(() => Mutate(vm, EveryOp, i, tally, Running, Resizes)) { IsBackground = true, Name = $"mutator {i}" })
            .Append(new Thread(() => HoldLeases(vm, log, stats, Running)) { IsBackground = true, Name = "lease holder" })
            .ToList();
        threads.ForEach(t => t.Start());

        // At least RunFor, and on a loaded machine longer (up to MaxRunFor) until the race has covered what the
        // assertions below need: shutdowns refuse new leases while they run, so the count of leases varies.
        var clock = Stopwatch.StartNew();
        bool Enough() =>
            Volatile.Read(ref stats.Leases) >= 10 && Volatile.Read(ref stats.CancelledByGuestResize) > 0 && Volatile.Read(ref stats.CancelledByTeardown) > 0
            && log.Observations.Count(o => o.Lease is not null) > 200;
        Eventually.Wait(() => clock.Elapsed >= MaxRunFor || (clock.Elapsed >= RunFor && Enough()), MaxRunFor + JoinWithin);

        Volatile.Write(ref stop, true);
        var stuck = threads.Where(t => !t.Join(JoinWithin)).Select(t => t.Name).ToList();

        var observations = log.Observations.ToList();
        var underLease = observations.Count(o => o.Lease is not null);
        var setChangesSeen = observations.Zip(observations.Skip(1)).Count(p => !p.First.Set.SequenceEqual(p.Second.Set));
        var violations = log.Violations();
        output.WriteLine($"{stats}; {changeEvents} change events, {observations.Count} observations ({underLease} under a lease), {setChangesSeen} set changes seen; {tally}");
        violations.Take(5).ToList().ForEach(output.WriteLine);

        Assert.Empty(stuck);
        Assert.Empty(violations);
        Assert.Empty(stats.Failures);
        Assert.Empty(tally.Unexpected);

        // The test raced: every operation got through at least once, the freeze refused some, the log saw the set
        // change (between leases) and saw it under leases, and leases were cancelled by each kind of legal cause.
        var neverSucceeded = EveryOp.Where(op => tally.Succeeded.GetValueOrDefault(op) == 0).ToList();
        Assert.Empty(neverSucceeded);
        Assert.True(tally.FrozenRefusals > 0, "No change was refused by the freeze.");
        // Few leases (guest resizes and shutdowns end them early, a shutdown refuses new ones while it runs); the
        // observations under them are what count.
        Assert.True(stats.Leases >= 5, stats.ToString());
        Assert.True(underLease > 100, $"Only {underLease} observations under a lease.");
        Assert.True(setChangesSeen > 0, "The log never saw the migratable set change.");
        Assert.True(stats.CancelledByGuestResize > 0, $"No guest resize cancelled a lease: {stats}");
        Assert.True(stats.CancelledByTeardown > 0, $"No shutdown asked a lease holder to cancel: {stats}");
        Assert.False(vm.Freeze.IsFrozen);
    }

    [Fact]
    public async Task DeleteVmAsync_RacingMutationsWhileLeaseHeld_HolderCancelledVmGoneNoChangeUnderLease()
    {
        using var test = new TestEmulator();
        for (var round = 0; round < 3; round++)
        {
            var name = $"doomed-{round}";
            var vm = test.CreateQ35(name, slots: 8, maxMemBytes: 4 * GiB, workload: new WorkloadSpec(WorkloadKind.Uniform, 20_000, 16 * MiB), start: true);
            var log = new SetLog(vm);
            vm.Changed += (_, kind) => log.Observe($"change event {kind}");
            var tally = new Tally();
            var stats = new LeaseStats();
            using var holdUntilCancelled = new ManualResetEventSlim(false);
            using var holdingUntilCancelled = new ManualResetEventSlim(false);
            var stop = false;
            bool Running() => !Volatile.Read(ref stop);

            var threads = Enumerable.Range(0, Mutators)
                .Select(i => new Thread(() => Mutate(vm, EveryOpButShutdown, (round * Mutators) + i, tally, Running, Resizes)) { IsBackground = true, Name = $"mutator {i}" })
                .Append(new Thread(() => HoldLeases(vm, log, stats, Running, holdUntilCancelled, holdingUntilCancelled)) { IsBackground = true, Name = "lease holder" })
                .ToList();
            threads.ForEach(t => t.Start());

            // Let the race run through a few leases, then make sure the delete meets a lease that is held.
            Eventually.Wait(() => Volatile.Read(ref stats.Leases) >= 3, JoinWithin, () => $"the race took only {stats.Leases} leases");
            holdUntilCancelled.Set();
            Assert.True(holdingUntilCancelled.Wait(JoinWithin), $"The lease holder never took a lease to hold: {stats}");
            var deleting = Stopwatch.StartNew();
            await test.Emulator.DeleteVmAsync(name).WaitAsync(JoinWithin);
            deleting.Stop();

            // The mutators now meet a deleted VM; let them (a hundred operations more), then stop.
            var opsAtDelete = Operations(tally);
            Eventually.Wait(() => Operations(tally) >= opsAtDelete + 100, JoinWithin, () => $"the mutators made only {Operations(tally) - opsAtDelete} operations after the delete");
            Volatile.Write(ref stop, true);
            var stuck = threads.Where(t => !t.Join(JoinWithin)).Select(t => t.Name).ToList();

            var violations = log.Violations();
            output.WriteLine($"round {round}: delete took {deleting.ElapsedMilliseconds} ms; {stats}; {tally}");
            violations.Take(5).ToList().ForEach(output.WriteLine);
            Assert.Empty(stuck);
            Assert.Empty(violations);
            Assert.Empty(stats.Failures);
            Assert.Empty(tally.Unexpected);
            Assert.True(stats.CancelledByTeardown > 0, $"The delete did not ask the holder to cancel: {stats}");
            Assert.True(deleting.Elapsed < vm.TeardownTimeout, "The delete waited out its timeout although the holder released.");
            Assert.False(test.Emulator.TryGetVm(name, out _));
            Assert.True(tally.RefusedByCode.GetValueOrDefault("vm-not-found") > 0, "No mutation met the deleted VM.");
            Expect.Code("vm-shutting-down", () => vm.Freeze.Acquire(new TestLeaseHolder("after-delete")));
        }
    }
}
