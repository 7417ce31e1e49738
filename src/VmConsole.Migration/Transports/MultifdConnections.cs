using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Transports;

/// <summary>
/// The connections of a multifd migration (DESIGN.md section 12): a sender connects the main one first (a QEMU 7.2
/// destination takes the first it accepts as the main one), then its channels to the same address; a receiver tells them
/// apart by their first four bytes (<c>QEVM</c>: the main stream; <c>0x11223344</c>: a channel), whatever their order.
/// </summary>
public static class MultifdConnections
{
    /// <summary>Connects <paramref name="count"/> channels to <paramref name="uri"/>, one after another; all are closed if one fails.</summary>
    public static async Task<MigrationChannel[]> ConnectAsync(MigrationUri uri, int count, CancellationToken cancellationToken)
    {
        var channels = new List<MigrationChannel>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                channels.Add(await MigrationChannel.ConnectAsync(uri, cancellationToken).ConfigureAwait(false));
            }

            return [.. channels];
        }
        catch
        {
            foreach (var channel in channels)
            {
                await channel.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>
    /// Accepts on <paramref name="listener"/> until the main connection has come, and returns it; the channels are handed
    /// to <paramref name="receiver"/> as they come, before or after it, until <paramref name="channels"/> have. A connection
    /// that is neither, or a second main one, fails the migration with a message saying so.
    /// </summary>
    public static async Task<(PipeReader Main, Socket MainSocket)> AcceptAsync(
        MigrationChannel.MultiListener listener, MultifdReceiver receiver, int channels, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(receiver);
        var main = new TaskCompletionSource<(PipeReader, Socket)>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(() => AcceptAllAsync(listener, receiver, channels, main, cancellationToken), CancellationToken.None);
        return await main.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task AcceptAllAsync(
        MigrationChannel.MultiListener listener, MultifdReceiver receiver, int channels, TaskCompletionSource<(PipeReader, Socket)> main, CancellationToken cancellationToken)
    {
        var classified = new List<Task>();
        try
        {
            for (var i = 0; i <= channels; i++)
            {
                var socket = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
                classified.Add(ClassifyAsync(socket, receiver, main, cancellationToken));
            }

            await Task.WhenAll(classified).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            main.TrySetCanceled(cancellationToken.IsCancellationRequested ? cancellationToken : new CancellationToken(true));
        }
        catch (Exception ex)
        {
            Refuse(receiver, main, $"Accepting the migration's connections failed: {ex.Message}");
        }
    }

    private static async Task ClassifyAsync(Socket socket, MultifdReceiver receiver, TaskCompletionSource<(PipeReader, Socket)> main, CancellationToken cancellationToken)
    {
        var input = MigrationChannel.ReaderOf(socket);
        var result = await input.ReadAtLeastAsync(4, cancellationToken).ConfigureAwait(false);
        var buffer = result.Buffer;
        if (buffer.Length < 4)
        {
            await input.CompleteAsync().ConfigureAwait(false);
            Refuse(receiver, main, $"A connection to the migration address closed after {buffer.Length} bytes, before saying whether it is the main stream or a multifd channel");
            return;
        }

        Span<byte> first = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(first);
        input.AdvanceTo(buffer.Start);
        var magic = BinaryPrimitives.ReadUInt32BigEndian(first);
        if (magic == QemuFormat.FileMagic)
        {
            if (!main.TrySetResult((input, socket)))
            {
                await input.CompleteAsync().ConfigureAwait(false);
                Refuse(receiver, main, "A second migration stream connected to a migration that has its main connection");
            }
        }
        else if (magic == Multifd.Magic)
        {
            receiver.AddChannel(input, cancellationToken);
        }
        else
        {
            await input.CompleteAsync().ConfigureAwait(false);
            Refuse(receiver, main, $"A connection to the migration address starts with 0x{magic:x8}: neither a migration stream (QEVM) nor a multifd channel (0x{Multifd.Magic:x8})");
        }
    }

    private static void Refuse(MultifdReceiver receiver, TaskCompletionSource<(PipeReader, Socket)> main, string message)
    {
        var error = new MigrationStreamException(message);
        main.TrySetException(error);
        receiver.Reject(error);
    }
}
