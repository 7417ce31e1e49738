using System.IO.Pipelines;
using System.Net.Sockets;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Transports;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>
/// One migration's way for the stream: the channel the sender writes (an in-process pipe to a destination host of this
/// server, or the <c>unix:</c>, <c>tcp:</c> or <c>file:</c> URI, listened on here as well when the destination is a host
/// of this server), and for such a destination the reader that feeds its memory. Used by the migration's worker only;
/// <see cref="DisposeAsync"/> releases it all once the worker has stopped using the destination's blocks.
/// </summary>
internal sealed class MigrationTransport(
    PrecopyMigration migration,
    Vm? destination,
    MigrationLease? destinationLease,
    MigrationUri? uri,
    MigrationHooks hooks) : IAsyncDisposable
{
    private MigrationChannel? _channel;
    private IAsyncDisposable? _listener;
    private Task? _receiving;
    private DestinationSink? _sink;

    /// <summary>What the sender writes (once <see cref="OpenAsync"/> has returned).</summary>
    public PipeWriter Output => _channel!.Output;

    /// <summary>What a destination host of this server received (once <see cref="OpenAsync"/> has returned); null for an external peer.</summary>
    public DestinationSink? Sink => _sink;

    /// <summary>Opens the channel and, for a destination host of this server, starts reading the stream into it.</summary>
    public async Task OpenAsync(CancellationToken cancellation)
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

    /// <summary>Waits for the destination host of this server to have read the whole stream, and returns what it received.</summary>
    public async Task<DestinationSink> ReceivedAsync()
    {
        await _receiving!.ConfigureAwait(false);
        if (!_sink!.ReachedEof)
        {
            throw new MigrationFailedException("The destination did not receive the end of the stream.");
        }

        return _sink;
    }

    /// <summary>Stops the bytes with <paramref name="error"/>, so that a receiver still reading sees the end and quits.</summary>
    public async Task AbortAsync(Exception error)
    {
        if (_channel is not null)
        {
            await _channel.Output.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the receiver to stop; returns its error unless it only stopped because the sender did.</summary>
    public async Task<Exception?> DrainReceiverAsync()
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
    public async ValueTask DisposeAsync()
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
}
