using System.Collections.Concurrent;
using System.IO.Pipelines;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Transports;

namespace VmConsole.Server.Tests.Components;

/// <summary>
/// A <see cref="PipeWriter"/> in front of the engine's that lets a test decide when the migration moves: every flush
/// waits for a permit from <see cref="Allow"/> (or the migration's token), so the statistics change only when the test
/// lets bytes through; an unsuccessful end (completing the stream with an error, the worker's first step once cancelled)
/// waits for <see cref="Release"/>, so the migration stays in <c>cancelling</c> as long as the test wants.
/// </summary>
internal sealed class GatedMigrationWriter(PipeWriter inner) : PipeWriter
{
    // Permits given by the test, taken by the worker's flushes.
    private readonly SemaphoreSlim _flushes = new(0);

    // Completed by the worker's thread, awaited by the test.
    private readonly TaskCompletionSource _unwinding = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Completed by the test (or when the channel closes), awaited by the worker.
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Incremented by the worker's thread at each flush, read by the test.
    private int _flushesEntered;

    /// <summary>Flushes the worker has started, including one waiting for a permit.</summary>
    public int FlushesEntered => Volatile.Read(ref _flushesEntered);

    /// <summary>The worker is ending the stream with an error and waits for <see cref="Release"/>.</summary>
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
            await _release.Task.ConfigureAwait(false);
        }

        await inner.CompleteAsync(exception).ConfigureAwait(false);
    }

    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _flushesEntered);
        await _flushes.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Puts a gated writer in front of every channel <paramref name="engine"/> opens; the returned function finds it by migration.</summary>
    public static Func<VmConsole.Migration.Engine.Migration, Task<GatedMigrationWriter>> Install(MigrationEngine engine)
    {
        var writers = new ConcurrentDictionary<string, TaskCompletionSource<GatedMigrationWriter>>(StringComparer.Ordinal);
        TaskCompletionSource<GatedMigrationWriter> Slot(string id) =>
            writers.GetOrAdd(id, _ => new TaskCompletionSource<GatedMigrationWriter>(TaskCreationOptions.RunContinuationsAsynchronously));
        engine.Hooks.WrapChannel = (migration, channel) =>
        {
            var writer = new GatedMigrationWriter(channel.Output);
            Slot(migration.Id).TrySetResult(writer);
            return MigrationChannel.Create(writer, channel.Input, new Releaser(writer), channel);
        };
        return migration => Slot(migration.Id).Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Closing the channel opens both gates, so a test that failed early does not leave its worker hanging.</summary>
    private sealed class Releaser(GatedMigrationWriter writer) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            writer.Release();
            writer.Allow(int.MaxValue / 2);
            return ValueTask.CompletedTask;
        }
    }
}
