using System.Buffers;
using System.IO.Pipelines;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Transports;

namespace VmConsole.Migration.Tests.Engine;

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
