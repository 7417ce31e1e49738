using System.Collections.Concurrent;
using System.IO.Pipelines;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Transports;

namespace VmConsole.TestSupport;

/// <summary>
/// A <see cref="PipeWriter"/> in front of the engine's own that lets a test decide when the migration moves (the
/// engine's and the server's tests):
/// <list type="bullet">
/// <item>with <c>holdFlushes</c>, every flush waits for a permit from <see cref="Allow"/> or for the migration's token:
/// a worker whose setup flushes the block list stays in setup until it is cancelled, and the statistics change only
/// when the test lets bytes through; without it, flushes pass;</item>
/// <item>an unsuccessful end (the worker completing the stream with an error, the first thing it does once its token
/// fired or its transport broke) waits until the test calls <see cref="Release"/>: the worker is then past the token,
/// still holds its leases, and the migration stays in <c>cancelling</c> as long as the test wants.</item>
/// </list>
/// </summary>
public sealed class GatedWriter(PipeWriter inner, bool holdFlushes) : PipeWriter
{
    // Permits given by the test, taken by the worker's flushes (with holdFlushes only).
    private readonly SemaphoreSlim _flushes = new(0);

    // Completed by the worker's thread, awaited by the test.
    private readonly TaskCompletionSource _flushEntered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _unwinding = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Completed by the test (or by the disposal of the gated channel), awaited by the worker.
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Incremented by the worker's thread at each flush, read by the test.
    private int _flushesEntered;

    /// <summary>How long an unsuccessful end waits for <see cref="Release"/> at the most (far beyond any test's hold).</summary>
    public static readonly TimeSpan HoldAtMost = TimeSpan.FromSeconds(15);

    /// <summary>The worker has called FlushAsync at least once.</summary>
    public Task FlushEntered => _flushEntered.Task;

    /// <summary>Flushes the worker has started, including one waiting for a permit.</summary>
    public int FlushesEntered => Volatile.Read(ref _flushesEntered);

    /// <summary>The worker is completing the stream with an error and waits for <see cref="Release"/>.</summary>
    public Task Unwinding => _unwinding.Task;

    /// <summary>Lets <paramref name="flushes"/> more flushes through.</summary>
    public void Allow(int flushes) => _flushes.Release(flushes);

    public void Release() => _release.TrySetResult();

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        if (exception is not null)
        {
            _unwinding.TrySetResult();

            // Held until the test releases it, but not for ever: a test that failed before releasing would otherwise
            // keep its worker here, the engine's disposal would time out, and its error would hide the test's own.
            try
            {
                await _release.Task.WaitAsync(HoldAtMost).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Never released: the test has failed already; end the stream so that the engine can shut down.
            }
        }

        await inner.CompleteAsync(exception).ConfigureAwait(false);
    }

    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _flushesEntered);
        _flushEntered.TrySetResult();
        if (holdFlushes)
        {
            await _flushes.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Puts a <see cref="GatedWriter"/> in front of every channel an engine opens, and finds it by migration.</summary>
public sealed class GatedChannels
{
    // Written by workers (in the hook), read by the test.
    private readonly ConcurrentDictionary<string, TaskCompletionSource<GatedWriter>> _writers = new(StringComparer.Ordinal);

    private GatedChannels()
    {
    }

    public static GatedChannels Install(MigrationEngine engine, bool holdFlushes)
    {
        var channels = new GatedChannels();
        engine.Hooks.WrapChannel = (migration, channel) =>
        {
            var writer = new GatedWriter(channel.Output, holdFlushes);
            channels.Slot(migration).TrySetResult(writer);
            return MigrationChannel.Create(writer, channel.Input, new Releaser(writer), channel);
        };
        return channels;
    }

    /// <summary>The writer of <paramref name="migration"/>'s channel, once its worker has opened it.</summary>
    public Task<GatedWriter> For(PrecopyMigration migration) => Slot(migration).Task;

    private TaskCompletionSource<GatedWriter> Slot(PrecopyMigration migration) =>
        _writers.GetOrAdd(migration.Id, _ => new TaskCompletionSource<GatedWriter>(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Closing the channel opens both gates, so that a test that failed before releasing does not hang its worker.</summary>
    private sealed class Releaser(GatedWriter writer) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            writer.Release();
            writer.Allow(int.MaxValue / 2);
            return ValueTask.CompletedTask;
        }
    }
}
