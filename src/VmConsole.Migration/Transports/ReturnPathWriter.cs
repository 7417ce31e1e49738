using System.Buffers.Binary;
using System.Net.Sockets;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Transports;

/// <summary>
/// QEMU's return path on the migration's own socket (migration.c <c>migrate_send_rp_message</c>): be16 message type,
/// be16 length, data. The receiver answers a PING with a PONG and, once it has loaded the stream, says SHUT(0) (or
/// SHUT(1) when it failed), which a QEMU source that opened the return path waits for before it completes.
/// </summary>
/// <remarks>PONG is sent by the task reading the stream, SHUT by the same task after it; the messages are a few bytes, written whole.</remarks>
public sealed class ReturnPathWriter(Socket socket) : IMigrationReturnPath
{
    /// <summary>MIG_RP_MSG_SHUT: the destination will send nothing more; be32 0 when it loaded the stream, 1 when it failed.</summary>
    public const ushort Shut = 1;

    /// <summary>MIG_RP_MSG_PONG: be32, the PING's value.</summary>
    public const ushort Pong = 2;

    // Written by the task reading the stream, read by the same task after it.
    private bool _open;

    /// <summary>Whether the source opened the return path (it then waits for <see cref="SendShut"/>).</summary>
    public bool IsOpen => _open;

    public void Open() => _open = true;

    public void SendPong(uint value) => Send(Pong, value);

    /// <summary>Says SHUT with 0 (loaded) or 1 (failed), when the source opened the return path; a source already gone is no error.</summary>
    public void SendShut(bool failed)
    {
        if (!_open)
        {
            return;
        }

        try
        {
            Send(Shut, failed ? 1u : 0u);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The source has gone: nobody waits for the answer.
        }
    }

    private void Send(ushort type, uint value)
    {
        Span<byte> message = stackalloc byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(message, type);
        BinaryPrimitives.WriteUInt16BigEndian(message[2..], 4);
        BinaryPrimitives.WriteUInt32BigEndian(message[4..], value);
        try
        {
            socket.Send(message);
        }
        catch (SocketException ex) when (type == Pong)
        {
            throw new MigrationStreamException($"Cannot answer PING on the return path: {ex.Message}", ex);
        }
    }
}
