using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using VmConsole.Persistence;

namespace VmConsole.Server.Persistence;

/// <summary>
/// The one writer to the database: writes are queued on a bounded channel and applied in batches, one
/// transaction per batch, so that the engine and the UI never wait on SQLite. A full queue drops the write
/// and logs it rather than blocking the caller.
/// </summary>
public sealed class ConsoleStore(IDbContextFactory<ConsoleDbContext> contexts, ILogger<ConsoleStore> logger) : BackgroundService
{
    private const int BatchSize = 256;

    // Flushes waiting for the batch in progress to commit; touched only by the single reader.
    private readonly List<TaskCompletionSource> _committed = [];

    private readonly Channel<Func<ConsoleDbContext, Task>> _writes = Channel.CreateBounded<Func<ConsoleDbContext, Task>>(
        new BoundedChannelOptions(20_000) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });

    /// <summary>Queues a write; false (and a log line) when the queue is full.</summary>
    public bool Enqueue(Func<ConsoleDbContext, Task> write)
    {
        if (_writes.Writer.TryWrite(write))
        {
            return true;
        }

        StoreLog.Dropped(logger);
        return false;
    }

    /// <summary>Completes once every write queued before the call is committed, visible to every reader.</summary>
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
                await WriteBatchAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: what is queued is written below.
        }

        while (_writes.Reader.TryPeek(out _))
        {
            await WriteBatchAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task WriteBatchAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < BatchSize && _writes.Reader.TryRead(out var write); i++)
        {
            try
            {
                await write(db).ConfigureAwait(false);
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is DbUpdateException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException)
            {
                StoreLog.WriteFailed(logger, ex);
            }
            finally
            {
                db.ChangeTracker.Clear();
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var flush in _committed)
        {
            flush.TrySetResult();
        }

        _committed.Clear();
    }
}

internal static partial class StoreLog
{
    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, Message = "The database write queue is full; a write was dropped")]
    public static partial void Dropped(ILogger logger);

    [LoggerMessage(EventId = 31, Level = LogLevel.Error, Message = "A database write failed")]
    public static partial void WriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 32, Level = LogLevel.Information, Message = "Restored {HostCount} hosts and {VmCount} VMs (shut off); {Interrupted} migrations interrupted by the restart marked failed")]
    public static partial void Restored(ILogger logger, int hostCount, int vmCount, int interrupted);

    [LoggerMessage(EventId = 33, Level = LogLevel.Error, Message = "VM {Vm} could not be restored")]
    public static partial void RestoreFailed(ILogger logger, string vm, Exception exception);
}
