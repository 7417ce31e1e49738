using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Transports;
using MigrationJob = VmConsole.Migration.Engine.Migration;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// A <see cref="PipeWriter"/> in front of the engine's own that passes everything through, except that
/// <list type="bullet">
/// <item>with <c>holdFlushes</c>, every flush waits for the migration's token, so a worker whose setup flushes the block
/// list stays in setup until it is cancelled;</item>
/// <item>an unsuccessful end (the worker completing the stream with an error, the first thing it does once its token
/// fired or its transport broke) waits until the test calls <see cref="Release"/>: the worker is then past the token and
/// still holds its leases.</item>
/// </list>
/// </summary>
internal sealed class GatedWriter(PipeWriter inner, bool holdFlushes) : PipeWriter
{
    // Completed by the worker's thread, awaited by the test.
    private readonly TaskCompletionSource _flushEntered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _unwinding = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Completed by the test (or by Dispose of the gated channel), awaited by the worker.
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The worker has called FlushAsync at least once.</summary>
    public Task FlushEntered => _flushEntered.Task;

    /// <summary>The worker is completing the stream with an error and waits for <see cref="Release"/>.</summary>
    public Task Unwinding => _unwinding.Task;

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
        _flushEntered.TrySetResult();
        if (holdFlushes)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }

        return await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Puts a <see cref="GatedWriter"/> in front of every channel an engine opens, and finds it by migration.</summary>
internal sealed class GatedChannels
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

    public Task<GatedWriter> For(MigrationJob migration) => Slot(migration).Task;

    private TaskCompletionSource<GatedWriter> Slot(MigrationJob migration) =>
        _writers.GetOrAdd(migration.Id, _ => new TaskCompletionSource<GatedWriter>(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Closing the channel releases the gate, so that a test that failed before releasing does not hang its worker.</summary>
    private sealed class Releaser(GatedWriter writer) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            writer.Release();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>
/// A fault-injecting proxy inside the in-process transport to a destination host: the sender writes the engine's pipe,
/// the proxy forwards exactly <c>cutAfter</c> bytes of it to the destination's pipe, then cuts both ways: the
/// destination's input ends there (as a closed connection) and the sender's pipe is completed with an IOException
/// (as a reset).
/// </summary>
internal sealed class CuttingProxy : IAsyncDisposable
{
    private readonly Pipe _toDestination = new(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 512 << 10, useSynchronizationContext: false));
    private readonly TaskCompletionSource<long> _cut = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _pump;

    private CuttingProxy(PipeReader fromSender, long cutAfter)
    {
        _pump = PumpAsync(fromSender, cutAfter);
    }

    /// <summary>Completes with the bytes forwarded when the proxy cut the stream (never, if the stream was shorter).</summary>
    public Task<long> Cut => _cut.Task;

    /// <summary>Every byte forwarded, once the pump has stopped (cut or end of the sender's stream).</summary>
    public long Forwarded { get; private set; }

    /// <summary>Installs a proxy for the next migration <paramref name="engine"/> starts; <paramref name="created"/> receives it.</summary>
    public static void InstallOnce(MigrationEngine engine, long cutAfter, Action<CuttingProxy> created)
    {
        engine.Hooks.WrapChannel = (_, channel) =>
        {
            engine.Hooks.WrapChannel = null;
            var proxy = new CuttingProxy(channel.Input!, cutAfter);
            created(proxy);
            return MigrationChannel.Create(channel.Output, proxy._toDestination.Reader, channel, proxy);
        };
    }

    public async ValueTask DisposeAsync() => await _pump.ConfigureAwait(false);

    private async Task PumpAsync(PipeReader fromSender, long cutAfter)
    {
        var writer = _toDestination.Writer;
        long forwarded = 0;
        try
        {
            while (true)
            {
                var result = await fromSender.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var take = Math.Min(buffer.Length, cutAfter - forwarded);
                foreach (var segment in buffer.Slice(0, take))
                {
                    writer.Write(segment.Span);
                }

                forwarded += take;
                fromSender.AdvanceTo(buffer.GetPosition(take));
                await writer.FlushAsync().ConfigureAwait(false);
                if (forwarded == cutAfter)
                {
                    await writer.CompleteAsync().ConfigureAwait(false);
                    await fromSender.CompleteAsync(new IOException($"connection cut by the test's proxy after {forwarded} bytes")).ConfigureAwait(false);
                    _cut.TrySetResult(forwarded);
                    return;
                }

                if (result.IsCompleted)
                {
                    await writer.CompleteAsync().ConfigureAwait(false);
                    await fromSender.CompleteAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            // The sender ended the stream with an error (it failed or was cancelled first): pass that on.
            await writer.CompleteAsync(ex).ConfigureAwait(false);
            await fromSender.CompleteAsync(ex).ConfigureAwait(false);
        }
        finally
        {
            Forwarded = forwarded;
        }
    }
}

/// <summary>A resource of a channel whose disposal throws, as a transport that fails to close.</summary>
internal sealed class ThrowingOnClose(string message) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => ValueTask.FromException(new IOException(message));
}
