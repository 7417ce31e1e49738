using System.Collections.Concurrent;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

/// <summary>
/// A delete that waits for a migration past its point of no return: the name moves to the destination while the
/// delete waits, and the delete follows it there (Emulator.DeleteVmAsync), or gives up with <c>vm-moving</c>.
/// </summary>
public sealed class DeleteFollowsMoveTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly TestEmulator _test = new();

    public void Dispose() => _test.Dispose();

    /// <summary>
    /// A migration stand-in that is past its point of no return: asked to cancel, it completes instead, on another
    /// thread, in the engine's order at switchover (MigrationRun): the name is handed to the destination
    /// (<see cref="Emulator.CommitMigration"/>), then the source's lease is released and the source disposed.
    /// <paramref name="onDestination"/> runs between the hand-over and the release: it may start a new migration of
    /// the moved VM, so that the delete meets a lease there too.
    /// </summary>
    private sealed class SwitchoverOnCancel : IMigrationLeaseHolder
    {
        private readonly Emulator _emulator;
        private readonly Vm _source;
        private readonly Action<Vm> _onDestination;
        private readonly MigrationLease _lease;
        private readonly TaskCompletionSource _switched = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile MigrationStatus _status = MigrationStatus.Device;

        public SwitchoverOnCancel(Emulator emulator, Vm source, Action<Vm> onDestination)
        {
            _emulator = emulator;
            _source = source;
            _onDestination = onDestination;
            _lease = source.Freeze.Acquire(this);
        }

        public string MigrationId => $"mig-from-{_source.Id:N}";

        public MigrationStatus Status => _status;

        /// <summary>Completes (or fails) once the switchover a cancel request set off is done.</summary>
        public Task Switched => _switched.Task;

        public void RequestCancel(string? error) =>
            Task.Run(() =>
            {
                try
                {
                    var destination = _emulator.CreateIncomingVm(_source.Definition);
                    _emulator.CommitMigration(_source, destination);
                    _onDestination(destination);
                    _status = MigrationStatus.Completed;
                    _lease.Dispose();
                    _source.Dispose();
                    _switched.SetResult();
                }
                catch (Exception exception)
                {
                    _switched.SetException(exception);
                }
            });
    }

    /// <summary>Puts <paramref name="moves"/> switchovers in a row on <paramref name="vm"/>: each destination migrates on as soon as it owns the name.</summary>
    private List<SwitchoverOnCancel> MovingChain(Vm vm, int moves, Action<Vm> last)
    {
        var chain = new List<SwitchoverOnCancel>();
        void Migrate(Vm source, int left) =>
            chain.Add(new SwitchoverOnCancel(_test.Emulator, source, destination =>
            {
                if (left > 1)
                {
                    Migrate(destination, left - 1);
                }
                else
                {
                    last(destination);
                }
            }));

        Migrate(vm, moves);
        return chain;
    }

    [Fact]
    public async Task DeleteVmAsync_VmSwitchesOverWhileDeleteWaits_FollowsAndDeletesTheDestination()
    {
        var source = _test.CreateQ35("mover", memoryBytes: 64 * MiB, start: true);
        Vm? destination = null;
        var switchover = new SwitchoverOnCancel(_test.Emulator, source, d => destination = d);
        var changes = new ConcurrentQueue<(InventoryChangeKind, string)>();
        _test.Emulator.InventoryChanged += (kind, name) => changes.Enqueue((kind, name));

        await _test.Emulator.DeleteVmAsync("mover").WaitAsync(Patience);
        await switchover.Switched.WaitAsync(Patience);

        Assert.NotNull(destination);
        Assert.False(_test.Emulator.TryGetVm("mover", out _));
        Assert.Equal(new[] { (InventoryChangeKind.VmMoved, "mover"), (InventoryChangeKind.VmRemoved, "mover") }, changes.ToArray());

        // The destination was torn down by the delete, not just dropped from the inventory; the source by its migration.
        Expect.Code("vm-shutting-down", () => destination.Freeze.Acquire(new TestLeaseHolder()));
        Expect.Code("vm-not-found", () => destination.Start());
        Assert.Empty(_test.Emulator.IncomingOn(_test.Host));
        Assert.Equal(0, _test.Host.ReservedBytes);
    }

    [Fact]
    public async Task DeleteVmAsync_VmKeepsMovingWhileDeleteWaits_VmMovingAndTheVmItNeverQuiescedStays()
    {
        var first = _test.CreateQ35("restless", memoryBytes: 64 * MiB, start: true);
        var lastHolder = new TestLeaseHolder("mig-last");
        Vm? last = null;

        // Four switchovers: each of the delete's four attempts quiesces a VM that then moves on.
        var chain = MovingChain(first, moves: 4, destination =>
        {
            last = destination;
            lastHolder.AcquireOn(destination);
        });

        var refused = await Expect.CodeAsync("vm-moving", () => _test.Emulator.DeleteVmAsync("restless").WaitAsync(Patience));
        await Task.WhenAll(chain.Select(s => s.Switched)).WaitAsync(Patience);

        Assert.Equal(ErrorKind.Conflict, refused.Kind);
        Assert.Contains("restless", refused.Message, StringComparison.Ordinal);
        Assert.Equal(4, chain.Count);
        Assert.NotNull(last);

        // The name belongs to the fifth VM, which the delete never touched: its migration was not asked to cancel,
        // and once that migration ends the VM can be deleted as usual.
        Assert.True(_test.Emulator.TryGetVm("restless", out var current));
        Assert.Same(last, current);
        Assert.Empty(lastHolder.CancelRequests);
        Assert.True(last.Freeze.IsFrozen);
        lastHolder.Release();
        await _test.Emulator.DeleteVmAsync("restless").WaitAsync(Patience);
        Assert.False(_test.Emulator.TryGetVm("restless", out _));
        Assert.Equal(0, _test.Host.ReservedBytes);
    }
}
