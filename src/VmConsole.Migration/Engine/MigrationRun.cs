using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Transports;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>
/// One migration's worker: transport, precopy, switchover, verification, and the end — completed (the name
/// moves to the destination), or cancelled/failed (the source resumes untouched, the destination is thrown
/// away). The leases are released only here, after the worker has stopped using the block lists.
/// </summary>
internal sealed class MigrationRun(
    PrecopyMigration migration,
    Emulator emulator,
    MigrationLease sourceLease,
    Vm? destination,
    MigrationLease? destinationLease,
    MigrationUri? uri,
    bool qemuCompatible,
    Func<CancellationToken, Task>? peerLoaded,
    MigrationHooks hooks,
    TimeProvider time)
{
    private readonly Vm _source = migration.Source;
    private readonly MigrationTransport _transport = new(migration, destination, destinationLease, uri, hooks);

    // Written and read by the worker only: the run state StopGuest took the source from (running or paused).
    private RunState? _stoppedFrom;

    public async Task RunAsync()
    {
        try
        {
            await MigrateAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Only the unwinding itself failing gets here; nobody awaits this task, so the error is kept as errorDesc.
            migration.SetError($"The migration worker failed while ending: {ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            try
            {
                await _transport.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                migration.SetError($"Closing the migration transport failed: {ex.Message}");
            }
            finally
            {
                migration.Finish();
            }
        }
    }

    private async Task MigrateAsync()
    {
        var cancellation = migration.CancellationToken;
        PrecopySender? sender = null;
        try
        {
            await _transport.OpenAsync(cancellation).ConfigureAwait(false);
            sender = new PrecopySender(migration, _source, sourceLease, _transport.Output, time)
            {
                QemuMachineType = qemuCompatible,
                MultifdOutputs = _transport.MultifdOutputs,
            };
            await sender.SetupAsync(cancellation).ConfigureAwait(false);
            migration.Counters.MarkSetupDone();
            Advance(MigrationStatus.Setup, MigrationStatus.Active);
            await sender.IterateAsync(cancellation).ConfigureAwait(false);

            await SwitchOverAsync(sender, cancellation).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await EndUnsuccessfullyAsync(ex, sender).ConfigureAwait(false);
        }
    }

    private async Task SwitchOverAsync(PrecopySender sender, CancellationToken cancellation)
    {
        // As QEMU's migration_completion: the downtime starts, the guest stops (finish-migrate), and only then does
        // pre-switchover wait for migrate-continue, so the downtime includes that wait.
        var stoppedAt = time.GetTimestamp();
        var wasRunning = StopGuest();
        if (migration.Capabilities.PauseBeforeSwitchover)
        {
            Advance(MigrationStatus.Active, MigrationStatus.PreSwitchover);

            // The figures it waits with (nothing moves until Continue), for whoever charts them.
            migration.ReportProgress();
            await migration.ContinueRequested.WaitAsync(cancellation).ConfigureAwait(false);
            Advance(MigrationStatus.PreSwitchover, MigrationStatus.Device);
        }
        else
        {
            Advance(MigrationStatus.Active, MigrationStatus.Device);
        }

        var state = VmConsoleState.Serialize(_source, wasRunning ? RunState.Running : RunState.Paused);
        await sender.CompleteAsync(qemuCompatible, state, cancellation).ConfigureAwait(false);
        if (peerLoaded is not null)
        {
            // Everything is sent; the peer outside the engine says whether it runs the guest now.
            await peerLoaded(cancellation).ConfigureAwait(false);
        }

        if (destination is not null)
        {
            var received = await _transport.ReceivedAsync().ConfigureAwait(false);
            var verified = await Task.Run(() => MigrationVerification.MemoryEquals(_source, received.Blocks), cancellation).ConfigureAwait(false);
            migration.SetVerified(verified);
            if (!verified)
            {
                throw new MigrationFailedException("Verification failed: the destination's migratable memory differs from the source's after switchover.");
            }
        }

        // The point of no return. A cancel that moved the migration out of device before it wins, and nothing below
        // has happened yet, so the rollback is whole. One that comes after it is too late and does nothing, as on a
        // completed migration: it must not roll back a destination that runs, or already owns the VM's name.
        if (!migration.TryCommit())
        {
            migration.CancellationToken.ThrowIfCancellationRequested();
            throw new OperationCanceledException($"Migration {migration.Id} left device before it could switch over.");
        }

        if (destination is not null)
        {
            StartDestination(wasRunning);
        }

        migration.Counters.SetDowntime((long)time.GetElapsedTime(stoppedAt).TotalMilliseconds);
        sender.ClearThrottle();
        _source.TryChangeRunState(RunState.FinishMigrate, RunState.PostMigrate);
        destinationLease?.Dispose();
        if (destination is not null)
        {
            emulator.CommitMigration(_source, destination);
        }

        sourceLease.Dispose();
        Advance(MigrationStatus.Device, MigrationStatus.Completed);

        // The destination runs and owns the name: the source's memory goes after completed, as QEMU's source lingers
        // in postmigrate. Finished still waits for it.
        if (destination is not null)
        {
            _source.Dispose();
        }

        migration.ReportProgress();
    }

    /// <summary>
    /// vm_stop_force_state(RUN_STATE_FINISH_MIGRATE): the source goes from running or paused to finish-migrate (its
    /// workload stops dirtying memory). True when it was running.
    /// </summary>
    private bool StopGuest()
    {
        while (_source.RunState is var current and (RunState.Running or RunState.Paused))
        {
            // A pause or resume may slip in between the read and the swap: then read again.
            if (_source.TryChangeRunState(current, RunState.FinishMigrate))
            {
                _stoppedFrom = current;
                migration.SetStoppedFrom(current);
                return current == RunState.Running;
            }
        }

        throw new MigrationFailedException($"VM '{_source.Name}' is {_source.RunState.ToQemuName()}: the migration cannot stop it to switch over.");
    }

    /// <summary>The destination takes over the source's workload and device state, and runs (or stays paused, as the source was).</summary>
    private void StartDestination(bool wasRunning)
    {
        // The CPU and device state QEMU sent with the VM goes with it from host to host, to go back to QEMU one day.
        destination!.SetDeviceState(_source.DeviceState);
        var state = _transport.Sink!.State;
        if (state is not null && state.Workload != WorkloadKind.Idle)
        {
            destination!.SetWorkload(new WorkloadSpec(state.Workload, state.PagesPerSecond, state.WorkingSetBytes), state.SweepPage);
        }

        destination!.TryChangeRunState(RunState.InMigrate, wasRunning ? RunState.Running : RunState.Paused);
    }

    private async Task EndUnsuccessfullyAsync(Exception error, PrecopySender? sender)
    {
        try
        {
            // Stop the bytes first, so that a receiver still reading sees the end and quits: the multifd channels' tasks
            // stop before their connections end.
            if (sender is not null)
            {
                await sender.AbortAsync(error).ConfigureAwait(false);
            }

            await _transport.AbortAsync(error).ConfigureAwait(false);
        }
        finally
        {
            // Even if completing the channel threw (RunAsync records that): the leases must go and the state must end.
            RollBack(error, await _transport.DrainReceiverAsync().ConfigureAwait(false), sender);
        }
    }

    private void RollBack(Exception error, Exception? receiverError, PrecopySender? sender)
    {
        var cancelled = migration.Status == MigrationStatus.Cancelling;
        if (!cancelled)
        {
            migration.SetError(Describe(receiverError ?? error));
            while (migration.Status is var current && !current.IsFinal() && current != MigrationStatus.Failing)
            {
                if (migration.TrySetStatus(current, MigrationStatus.Failing))
                {
                    break;
                }
            }
        }

        // The destination's half goes; the source resumes as it was, memory untouched.
        destinationLease?.Dispose();
        if (destination is not null)
        {
            emulator.DiscardIncoming(destination);
        }

        sender?.ClearThrottle();
        if (_stoppedFrom is { } before)
        {
            _source.TryChangeRunState(RunState.FinishMigrate, before);
        }

        sourceLease.Dispose();
        if (migration.Status == MigrationStatus.Cancelling)
        {
            migration.TrySetStatus(MigrationStatus.Cancelling, MigrationStatus.Cancelled);
        }
        else
        {
            migration.TrySetStatus(MigrationStatus.Failing, MigrationStatus.Failed);
        }

        migration.ReportProgress();
    }

    private void Advance(MigrationStatus from, MigrationStatus to)
    {
        if (!migration.TrySetStatus(from, to))
        {
            // Lost the race to a cancel: the worker stops here.
            migration.CancellationToken.ThrowIfCancellationRequested();
            throw new OperationCanceledException($"Migration {migration.Id} left {from.ToQemuName()} before it could become {to.ToQemuName()}.");
        }
    }

    private static string Describe(Exception error) => error switch
    {
        MigrationStreamException or MigrationFailedException => error.Message,
        DomainException => error.Message,
        OperationCanceledException => "The migration was stopped.",
        IOException => $"Migration stream broke: {error.Message}",
        _ => $"{error.GetType().Name}: {error.Message}",
    };
}
