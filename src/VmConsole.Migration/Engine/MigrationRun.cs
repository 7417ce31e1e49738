using System.IO.Pipelines;
using System.Net.Sockets;
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
    MigrationHooks hooks,
    TimeProvider time)
{
    private readonly Vm _source = migration.Source;
    private MigrationChannel? _channel;
    private IAsyncDisposable? _listener;
    private Task? _receiving;
    private DestinationSink? _sink;
    private bool _pausedByUs;

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
                await CloseTransportAsync().ConfigureAwait(false);
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
            await OpenTransportAsync(cancellation).ConfigureAwait(false);
            sender = new PrecopySender(migration, _source, sourceLease, _channel!.Output, time) { QemuMachineType = qemuCompatible };
            await sender.SetupAsync(cancellation).ConfigureAwait(false);
            migration.MarkSetupDone();
            Advance(MigrationStatus.Setup, MigrationStatus.Active);
            await sender.IterateAsync(cancellation).ConfigureAwait(false);

            await SwitchOverAsync(sender, cancellation).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await EndUnsuccessfullyAsync(ex, sender).ConfigureAwait(false);
        }
    }

    private async Task OpenTransportAsync(CancellationToken cancellation)
    {
        if (destination is null)
        {
            _channel = Hooked(await ConnectAsync(uri!, cancellation).ConfigureAwait(false));
            return;
        }

        PipeReader input;
        if (uri is null)
        {
            _channel = Hooked(MigrationChannel.InProcess());
            input = _channel.Input!;
        }
        else
        {
            var (accepted, listener) = MigrationChannel.Listen(uri, cancellation);
            _listener = listener;
            _channel = Hooked(await ConnectAsync(uri, cancellation).ConfigureAwait(false));
            input = await accepted.ConfigureAwait(false);
        }

        _sink = new DestinationSink(destination, destinationLease!);
        var sink = hooks.WrapDestinationSink?.Invoke(migration, _sink) ?? _sink;
        var reader = new MigrationStreamReader(input, sink);
        _receiving = Task.Run(() => reader.ReadToEndAsync(cancellation), CancellationToken.None);
    }

    private MigrationChannel Hooked(MigrationChannel channel) => hooks.WrapChannel?.Invoke(migration, channel) ?? channel;

    private static async Task<MigrationChannel> ConnectAsync(MigrationUri uri, CancellationToken cancellation)
    {
        try
        {
            return await MigrationChannel.ConnectAsync(uri, cancellation).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new MigrationFailedException($"Failed to connect to '{uri}': {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MigrationFailedException($"Failed to open '{uri}': {ex.Message}", ex);
        }
    }

    private async Task SwitchOverAsync(PrecopySender sender, CancellationToken cancellation)
    {
        if (migration.Capabilities.PauseBeforeSwitchover)
        {
            Advance(MigrationStatus.Active, MigrationStatus.PreSwitchover);
            await migration.ContinueRequested.WaitAsync(cancellation).ConfigureAwait(false);
            Advance(MigrationStatus.PreSwitchover, MigrationStatus.Device);
        }
        else
        {
            Advance(MigrationStatus.Active, MigrationStatus.Device);
        }

        // Stop the guest: from here to the destination running is the downtime.
        var stoppedAt = time.GetTimestamp();
        var wasRunning = _source.RunState == RunState.Running;
        _pausedByUs = _source.TryChangeRunState(RunState.Running, RunState.Paused);
        var state = VmConsoleState.Serialize(_source, wasRunning ? RunState.Running : RunState.Paused);
        await sender.CompleteAsync(qemuCompatible, state, cancellation).ConfigureAwait(false);

        if (destination is not null)
        {
            await _receiving!.ConfigureAwait(false);
            if (!_sink!.ReachedEof)
            {
                throw new MigrationFailedException("The destination did not receive the end of the stream.");
            }

            var verified = await Task.Run(() => MemoryEquals(_sink.Blocks), cancellation).ConfigureAwait(false);
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

        migration.SetDowntime((long)time.GetElapsedTime(stoppedAt).TotalMilliseconds);
        sender.ClearThrottle();
        _source.TryChangeRunState(RunState.Paused, RunState.PostMigrate);
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

    /// <summary>The destination takes over the source's workload and runs (or stays paused, as the source was).</summary>
    private void StartDestination(bool wasRunning)
    {
        var state = _sink!.State;
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
            // Stop the bytes first, so that a receiver still reading sees the end and quits.
            if (_channel is not null)
            {
                await _channel.Output.CompleteAsync(error).ConfigureAwait(false);
            }
        }
        finally
        {
            // Even if completing the channel threw (RunAsync records that): the leases must go and the state must end.
            RollBack(error, await DrainReceiverAsync().ConfigureAwait(false), sender);
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
        if (_pausedByUs)
        {
            _source.TryChangeRunState(RunState.Paused, RunState.Running);
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

    /// <summary>Waits for the receiver to stop; returns its error unless it only stopped because the sender did.</summary>
    private async Task<Exception?> DrainReceiverAsync()
    {
        if (_receiving is null)
        {
            return null;
        }

        try
        {
            await _receiving.ConfigureAwait(false);
            return null;
        }
        catch (TruncatedStreamException)
        {
            return null;
        }
        catch (MigrationStreamException ex)
        {
            return ex;
        }
        catch (Exception)
        {
            return null;
        }
    }

    /// <summary>Lets go of the destination's memory, the channel and the listener; each is released even if one before it throws.</summary>
    private async Task CloseTransportAsync()
    {
        try
        {
            _sink?.Dispose();
        }
        finally
        {
            try
            {
                if (_channel is not null)
                {
                    await _channel.DisposeAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                if (_listener is not null)
                {
                    await _listener.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
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

    /// <summary>
    /// Compares the blocks byte for byte; a page one side never backed reads as zero there and is checked against zero
    /// on the other side alone (reading it would only fault it in).
    /// </summary>
    private bool MemoryEquals(IReadOnlyList<Emulation.Blocks.RamBlock> destinationBlocks)
    {
        // Large blocks are compared in as many slices as there are cores: the guest is stopped and nothing else runs.
        const long SliceBytes = 64 << 20;
        var slices = new List<(Emulation.Blocks.RamBlock Origin, Emulation.Blocks.RamBlock Target, long Offset, long Length)>();
        foreach (var target in destinationBlocks)
        {
            var origin = _source.FindMigratable(target.IdStr)!;
            for (long offset = 0; offset < target.UsedLength; offset += SliceBytes)
            {
                slices.Add((origin, target, offset, Math.Min(SliceBytes, target.UsedLength - offset)));
            }
        }

        var equal = true;
        Parallel.ForEach(slices, (slice, state) =>
        {
            if (!SliceEquals(slice.Origin, slice.Target, slice.Offset, slice.Length))
            {
                Volatile.Write(ref equal, false);
                state.Stop();
            }
        });
        return equal;
    }

    private static bool SliceEquals(Emulation.Blocks.RamBlock origin, Emulation.Blocks.RamBlock target, long from, long length)
    {
        const int PageSize = Wire.QemuFormat.TargetPageSize;
        const int ChunkPages = 256;
        Span<ulong> untouchedA = stackalloc ulong[ChunkPages / 64];
        Span<ulong> untouchedB = stackalloc ulong[ChunkPages / 64];
        using var a = origin.AcquireMemory();
        using var b = target.AcquireMemory();
        for (var offset = from; offset < from + length; offset += ChunkPages * PageSize)
        {
            var pages = (int)Math.Min(ChunkPages, (from + length - offset) / PageSize);
            if (!a.TryGetUntouched(offset, pages, untouchedA) || !b.TryGetUntouched(offset, pages, untouchedB))
            {
                untouchedA.Clear();
                untouchedB.Clear();
            }

            // Runs of pages in the same state: a side that never backed a page is zero there without being read (a read
            // would back it with the zero page), so only a page both sides backed needs both read.
            var page = 0;
            while (page < pages)
            {
                var state = State(untouchedA, untouchedB, page);
                var end = page + 1;
                while (end < pages && State(untouchedA, untouchedB, end) == state)
                {
                    end++;
                }

                var start = offset + ((long)page * PageSize);
                var run = (end - page) * PageSize;
                var same = state switch
                {
                    3 => true,
                    1 => !b.Span(start, run).ContainsAnyExcept((byte)0),
                    2 => !a.Span(start, run).ContainsAnyExcept((byte)0),
                    _ => a.Span(start, run).SequenceEqual(b.Span(start, run)),
                };
                if (!same)
                {
                    return false;
                }

                page = end;
            }
        }

        return true;
    }

    /// <summary>Bit 0: the source never backed the page; bit 1: the destination never backed it.</summary>
    private static int State(ReadOnlySpan<ulong> untouchedA, ReadOnlySpan<ulong> untouchedB, int page) =>
        (IsSet(untouchedA, page) ? 1 : 0) | (IsSet(untouchedB, page) ? 2 : 0);

    private static bool IsSet(ReadOnlySpan<ulong> bits, int index) => (bits[index >> 6] & (1UL << (index & 63))) != 0;

    private static string Describe(Exception error) => error switch
    {
        MigrationStreamException or MigrationFailedException => error.Message,
        DomainException => error.Message,
        OperationCanceledException => "The migration was stopped.",
        IOException => $"Migration stream broke: {error.Message}",
        _ => $"{error.GetType().Name}: {error.Message}",
    };
}

/// <summary>A migration that cannot go on, with the reason that becomes its errorDesc.</summary>
public sealed class MigrationFailedException(string message, Exception? inner = null) : Exception(message, inner);
