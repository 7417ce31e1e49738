using System.Collections.Immutable;
using VmConsole.Emulation.Blocks;

namespace VmConsole.Emulation.Freeze;

/// <summary>
/// The migratable-set freeze of one VM (DESIGN.md section 3). A migration takes the lease when it is
/// accepted and releases it when its worker has quit; every change to the VM's block list passes
/// <see cref="Check"/> under the same gate, so a check and its change are atomic with respect to
/// taking the lease: no change slips in after a migration was accepted, and no migration starts
/// between a change's check and the change.
/// </summary>
public sealed class MigrationFreeze
{
    private readonly Lock _gate;
    private readonly string _vm;
    private readonly Func<ImmutableArray<MigratableIdentity>> _currentSet;
    private readonly Action _changed;

    // Written under _gate; read without it only for display.
    private MigrationLease? _lease;

    // Written under _gate: why no new lease may be taken (the VM is being torn down), or null.
    private string? _closedBecause;

    // Written under _gate: the VM is gone, so no teardown that gives up may reopen the freeze.
    private bool _sealed;

    /// <param name="changed">Called after a lease is taken or released, outside the gate.</param>
    internal MigrationFreeze(Lock gate, string vm, Func<ImmutableArray<MigratableIdentity>> currentSet, Action changed)
    {
        _gate = gate;
        _vm = vm;
        _currentSet = currentSet;
        _changed = changed;
    }

    /// <summary>The lease in force, or null when the set may change.</summary>
    public MigrationLease? Lease => Volatile.Read(ref _lease);

    public bool IsFrozen => Lease is not null;

    /// <summary>
    /// Takes the lease for <paramref name="holder"/>. Refused with <c>migratable-set-frozen</c> when another
    /// migration holds it (QEMU: "There's a migration process in progress"), and while the VM is being torn down.
    /// </summary>
    public MigrationLease Acquire(IMigrationLeaseHolder holder)
    {
        ArgumentNullException.ThrowIfNull(holder);
        MigrationLease lease;
        lock (_gate)
        {
            if (_closedBecause is not null)
            {
                throw DomainException.Conflict(ErrorCodes.VmShuttingDown, $"VM '{_vm}' cannot start a migration: {_closedBecause}.");
            }

            if (_lease is { } held)
            {
                throw new MigratableSetFrozenException(_vm, "migrate", null, held.Holder.MigrationId, held.Holder.Status.ToQemuName());
            }

            lease = new MigrationLease(this, holder, _currentSet());
            Volatile.Write(ref _lease, lease);
        }

        _changed();
        return lease;
    }

    internal bool Release(MigrationLease lease)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_lease, lease))
            {
                return false;
            }

            Volatile.Write(ref _lease, null);
        }

        return true;
    }

    /// <summary>Tells the VM a lease was released; called by the lease after it has completed <see cref="MigrationLease.Released"/>.</summary>
    internal void NotifyReleased() => _changed();

    /// <summary>
    /// Refuses a change that would turn the block's entry in the migratable set from <paramref name="before"/>
    /// into <paramref name="after"/> while the lease is held. The caller holds the gate and applies the
    /// change before letting go of it.
    /// </summary>
    internal void Check(string operation, RamBlock block, MigratableIdentity? before, MigratableIdentity? after)
    {
        if (_lease is { } held && before != after)
        {
            throw new MigratableSetFrozenException(_vm, operation, block.DisplayName, held.Holder.MigrationId, held.Holder.Status.ToQemuName());
        }
    }

    /// <summary>Refuses, while the lease is held, an operation QEMU refuses during migration whatever it changes (device_add, device_del).</summary>
    internal void CheckNotMigrating(string operation, string? block)
    {
        if (_lease is { } held)
        {
            throw new MigratableSetFrozenException(_vm, operation, block, held.Holder.MigrationId, held.Holder.Status.ToQemuName());
        }
    }

    /// <summary>Stops new leases (teardown under way) and returns the lease in force, if any. Caller holds the gate.</summary>
    internal MigrationLease? Close(string because)
    {
        if (_closedBecause is not null)
        {
            throw DomainException.Conflict(ErrorCodes.VmShuttingDown, $"VM '{_vm}' is already being torn down: {_closedBecause}.");
        }

        _closedBecause = because;
        return _lease;
    }

    /// <summary>Allows leases again after a teardown that ended (shutdown) or gave up, unless the VM is gone. Caller holds the gate.</summary>
    internal void Reopen()
    {
        if (!_sealed)
        {
            _closedBecause = null;
        }
    }

    /// <summary>Stops new leases for good (the VM was disposed), whether or not a teardown had closed it already. Caller holds the gate.</summary>
    internal void Seal(string because)
    {
        _sealed = true;
        _closedBecause = because;
    }
}
