using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using VmConsole.Persistence;

namespace VmConsole.Server.Recording;

/// <summary>
/// The one writer to the database: writes are queued and applied in batches, one transaction per batch, so
/// that the engine never waits on SQLite. What the API or the UI acknowledges waits for its commit with
/// <see cref="FlushAsync"/> (callers flushing at once share a batch, so a burst of calls is a few commits). Only
/// progress samples may be dropped, when more than <c>sampleCapacity</c> of them wait (counted and logged); status
/// changes, VM definitions and audit lines are always queued. A write or a batch that fails is logged and the writer
/// goes on with the next; the flushes of a batch that did not commit fault.
/// </summary>
public sealed class ConsoleStore(IDbContextFactory<ConsoleDbContext> contexts, ILogger<ConsoleStore> logger, int sampleCapacity = ConsoleStore.DefaultSampleCapacity) : BackgroundService
{
    public const int DefaultSampleCapacity = 20_000;
    private const int BatchSize = 256;

    // Flushes waiting for the batch in progress to commit; touched only by the single reader.
    private readonly List<TaskCompletionSource> _committed = [];

    // Unbounded so that a write that must not be lost is never refused; samples are bounded by _queuedSamples.
    private readonly Channel<Write> _writes = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = true });

    // Samples queued and not yet taken by the reader: incremented by producers, decremented by the reader (Interlocked).
    private int _queuedSamples;

    // Samples refused because the queue was full (Interlocked).
    private long _droppedSamples;

    /// <summary>Progress samples dropped since start because the queue was full.</summary>
    public long DroppedSamples => Interlocked.Read(ref _droppedSamples);

    /// <summary>Queues a write that must not be lost (definitions, status changes, audit); false only once the writer has stopped.</summary>
    public bool Enqueue(Func<ConsoleDbContext, Task> write) => _writes.Writer.TryWrite(new Write(write, IsSample: false));

    /// <summary>Queues a progress sample; false (counted and logged) when too many wait already.</summary>
    public bool EnqueueSample(Func<ConsoleDbContext, Task> write)
    {
        if (Interlocked.Increment(ref _queuedSamples) > sampleCapacity || !_writes.Writer.TryWrite(new Write(write, IsSample: true)))
        {
            Interlocked.Decrement(ref _queuedSamples);
            var dropped = Interlocked.Increment(ref _droppedSamples);
            if (dropped == 1 || dropped % 1000 == 0)
            {
                StoreLog.SamplesDropped(logger, dropped);
            }

            return false;
        }

        return true;
    }

    /// <summary>
    /// Completes once every write queued before the call is committed, visible to every reader; faults when the batch
    /// that held it could not commit. Callers flushing at once share one commit (their flushes are in one batch).
    /// </summary>
    public Task FlushAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return Enqueue(_ =>
        {
            _committed.Add(done);
            return Task.CompletedTask;
        }) ? done.Task : Task.CompletedTask;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _writes.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                await WriteBatchAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: what is queued is written below.
        }

        while (_writes.Reader.TryPeek(out _))
        {
            await WriteBatchAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One transaction for up to <see cref="BatchSize"/> writes; never throws, so one bad batch cannot stop the writer or the host.</summary>
    private async Task WriteBatchAsync()
    {
        Exception? failed = null;
        try
        {
            await using var db = await contexts.CreateDbContextAsync().ConfigureAwait(false);
            await using var transaction = await db.Database.BeginTransactionAsync().ConfigureAwait(false);
            for (var i = 0; i < BatchSize && _writes.Reader.TryRead(out var write); i++)
            {
                if (write.IsSample)
                {
                    Interlocked.Decrement(ref _queuedSamples);
                }

                try
                {
                    await write.Apply(db).ConfigureAwait(false);
                    await db.SaveChangesAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    StoreLog.WriteFailed(logger, ex);
                }
                finally
                {
                    db.ChangeTracker.Clear();
                }
            }

            await transaction.CommitAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            StoreLog.BatchFailed(logger, ex);
            failed = ex;
        }
        finally
        {
            foreach (var flush in _committed)
            {
                // A flush in a batch that did not commit must not let its caller acknowledge what it waited for.
                _ = failed is null ? flush.TrySetResult() : flush.TrySetException(new InvalidOperationException("The database did not commit the writes this flush waited for.", failed));
            }

            _committed.Clear();
        }
    }

    private readonly record struct Write(Func<ConsoleDbContext, Task> Apply, bool IsSample);
}
