using System.Collections.Immutable;
using VmConsole.Emulation.Blocks;

namespace VmConsole.Emulation.Freeze;

/// <summary>
/// A migration's hold on a VM's block list. While it exists the migratable set cannot change. Dispose it
/// only once the worker has stopped using the block list: that is what lifts the freeze.
/// </summary>
public sealed class MigrationLease : IDisposable
{
    private readonly MigrationFreeze _freeze;
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal MigrationLease(MigrationFreeze freeze, IMigrationLeaseHolder holder, ImmutableArray<MigratableIdentity> migratableSet)
    {
        _freeze = freeze;
        Holder = holder;
        MigratableSet = migratableSet;
    }

    public IMigrationLeaseHolder Holder { get; }

    /// <summary>The migratable set as it was when the lease was taken; it stays so until release.</summary>
    public ImmutableArray<MigratableIdentity> MigratableSet { get; }

    /// <summary>Completes when the lease has been released.</summary>
    public Task Released => _released.Task;

    public void Dispose()
    {
        if (_freeze.Release(this))
        {
            // Released first: a teardown waiting on it must not depend on what event subscribers do.
            _released.TrySetResult();
            _freeze.NotifyReleased();
        }
    }
}
