using VmConsole.Emulation.Freeze;

namespace VmConsole.Emulation.Vms;

/// <summary>
/// A VM's power: start, pause, resume, reset and shutdown as QEMU's run states allow them, and the run state changes
/// a migration makes. Every change happens under <see cref="_gate"/>; the event is raised after it is let go.
/// </summary>
public sealed partial class Vm
{
    public Task PowerAsync(PowerAction action, CancellationToken cancellationToken = default)
    {
        switch (action)
        {
            case PowerAction.Start: Start(); return Task.CompletedTask;
            case PowerAction.Pause: Pause(); return Task.CompletedTask;
            case PowerAction.Resume: Resume(); return Task.CompletedTask;
            case PowerAction.Reset: Reset(); return Task.CompletedTask;
            case PowerAction.Shutdown: return ShutdownAsync(cancellationToken);
            default: throw DomainException.Invalid(ErrorCodes.InvalidPowerAction, $"Unknown power action {(int)action}.");
        }
    }

    /// <summary>Boots the VM: from prelaunch, or from shutdown with freshly loaded firmware.</summary>
    public void Start()
    {
        lock (_gate)
        {
            var from = CheckPower(PowerAction.Start);
            if (from == RunState.Shutdown)
            {
                foreach (var block in _memory.Blocks.Where(b => b.ReadOnly))
                {
                    _memory.LoadFirmware(block);
                }

                _workload.Restart();
            }

            SetRunState(RunState.Running);
        }

        Raise(VmChangeKind.RunState);
    }

    public void Pause() => Transition(PowerAction.Pause, RunState.Paused);

    public void Resume() => Transition(PowerAction.Resume, RunState.Running);

    /// <summary>system_reset: the guest reboots; firmware reloads (same sizes) and the workload starts over. RAM keeps its bytes, as on real hardware.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            CheckPower(PowerAction.Reset);
            foreach (var block in _memory.Blocks.Where(b => b.ReadOnly))
            {
                _memory.LoadFirmware(block);
                block.MarkDirty(0, block.UsedLength);
            }

            _workload.Restart();
        }

        Raise(VmChangeKind.RunState);
    }

    /// <summary>
    /// Powers the VM off. A migration that holds the lease is asked to cancel first and waited for
    /// (at most <see cref="TeardownTimeout"/>); memory is dropped only after it has let go.
    /// </summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken = default)
    {
        MigrationLease? lease;
        lock (_gate)
        {
            CheckPower(PowerAction.Shutdown);
            lease = _freeze.Close("it is shutting down");
        }

        try
        {
            await StopMigrationAsync(lease, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                EnsureNotDisposed();
                SetRunState(RunState.Shutdown);
                foreach (var block in _memory.Blocks)
                {
                    block.Memory.Discard(0, block.MaxLength);
                    block.DirtyLog.SyncAndCount();
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _freeze.Reopen();
            }
        }

        Raise(VmChangeKind.RunState);
    }

    /// <summary>
    /// For the migration engine: moves the run state from <paramref name="expected"/> to <paramref name="next"/>
    /// (compare-and-swap); false when the state was something else.
    /// </summary>
    public bool TryChangeRunState(RunState expected, RunState next)
    {
        lock (_gate)
        {
            if (_disposed || _runState != expected)
            {
                return false;
            }

            SetRunState(next);
        }

        Raise(VmChangeKind.RunState);
        return true;
    }

    private void Transition(PowerAction action, RunState next)
    {
        lock (_gate)
        {
            CheckPower(action);
            SetRunState(next);
        }

        Raise(VmChangeKind.RunState);
    }

    // CheckPower and SetRunState: callers hold _gate.
    private RunState CheckPower(PowerAction action)
    {
        EnsureNotDisposed();
        PowerTransitions.Check(action, _runState, Name);
        return _runState;
    }

    private void SetRunState(RunState next)
    {
        _runState = next;
        _workload.Active = next == RunState.Running;
    }
}
