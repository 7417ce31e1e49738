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
    private MigrationChannel[] _multifdChannels = [];
    private MultifdReceiver? _multifdReceiver;
    private IAsyncDisposable? _listener;
    private Task? _receiving;
    private DestinationSink? _sink;

    /// <summary>What the sender writes (once <see cref="OpenAsync"/> has returned).</summary>
    public PipeWriter Output => _channel!.Output;

    /// <summary>With multifd: what the sender writes on each channel (once <see cref="OpenAsync"/> has returned); else null.</summary>
    public IReadOnlyList<PipeWriter>? MultifdOutputs => migration.Capabilities.Multifd ? [.. _multifdChannels.Select(c => c.Output)] : null;

    /// <summary>What a destination host of this server received (once <see cref="OpenAsync"/> has returned); null for an external peer.</summary>
    public DestinationSink? Sink => _sink;

    /// <summary>Opens the channel and, for a destination host of this server, starts reading the stream into it.</summary>
    public async Task OpenAsync(CancellationToken cancellation)
    {
        var channels = migration.Capabilities.Multifd ? migration.Parameters.MultifdChannels : 0;
        if (destination is null)
        {
            // The main connection first: a QEMU 7.2 destination takes the first it accepts as the main one.
            _channel = Hooked(await ConnectAsync(uri!, cancellation).ConfigureAwait(false));
            if (channels > 0)
            {
                _multifdChannels = await ConnectChannelsAsync(uri!, channels, cancellation).ConfigureAwait(false);
            }

            return;
        }

        Task<PipeReader> input;
        if (channels > 0)
        {
            _multifdReceiver = new MultifdReceiver(channels, migration.Parameters.MultifdCompression);
        }

        if (uri is null)
        {
            _channel = Hooked(MigrationChannel.InProcess());
            input = Task.FromResult(_channel.Input!);
            _multifdChannels = [.. Enumerable.Range(0, channels).Select(_ => MigrationChannel.InProcess())];
            foreach (var channel in _multifdChannels)
            {
                _multifdReceiver!.AddChannel(channel.Input!, cancellation);
            }
        }
        else if (channels > 0)
        {
            var listener = MigrationChannel.ListenMany(uri);
            _listener = listener;
            _channel = Hooked(await ConnectAsync(uri, cancellation).ConfigureAwait(false));
            _multifdChannels = await ConnectChannelsAsync(uri, channels, cancellation).ConfigureAwait(false);

            // Told apart by their first bytes, which the sender writes once this returns: the reading waits for them.
            input = MainOfAsync(MultifdConnections.AcceptAsync(listener, _multifdReceiver!, channels, cancellation));
        }
        else
        {
            var (accepted, listener) = MigrationChannel.Listen(uri, cancellation);
            _listener = listener;
            _channel = Hooked(await ConnectAsync(uri, cancellation).ConfigureAwait(false));
            input = Task.FromResult(await accepted.ConfigureAwait(false));
        }

        _sink = new DestinationSink(destination, destinationLease!);
        var sink = hooks.WrapDestinationSink?.Invoke(migration, _sink) ?? _sink;
        var multifd = _multifdReceiver;
        _receiving = Task.Run(
            async () =>
            {
                var reader = new MigrationStreamReader(await input.ConfigureAwait(false), sink, multifd: multifd);
                await reader.ReadToEndAsync(cancellation).ConfigureAwait(false);
            },
            CancellationToken.None);

        static async Task<PipeReader> MainOfAsync(Task<(PipeReader Main, Socket MainSocket)> accepted) => (await accepted.ConfigureAwait(false)).Main;
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

        foreach (var channel in _multifdChannels)
        {
            await channel.Output.CompleteAsync(error).ConfigureAwait(false);
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
            // The channels write into the destination's memory: they stop before it goes.
            if (_multifdReceiver is not null)
            {
                await _multifdReceiver.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var channel in _multifdChannels)
            {
                await channel.DisposeAsync().ConfigureAwait(false);
            }

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

    private static async Task<MigrationChannel[]> ConnectChannelsAsync(MigrationUri uri, int count, CancellationToken cancellation)
    {
        try
        {
            return await MultifdConnections.ConnectAsync(uri, count, cancellation).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new MigrationFailedException($"Failed to connect the multifd channels to '{uri}': {ex.Message}", ex);
        }
    }

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
