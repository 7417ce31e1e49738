using System.Net;
using System.Net.Sockets;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// A fault-injecting external peer: it accepts one migration connection, reads exactly <c>cutAfter</c> bytes, then
/// closes the socket (unix) or resets it (tcp, SO_LINGER 0 sends RST).
/// </summary>
internal sealed class CuttingPeer : IDisposable
{
    private readonly Socket _listener;
    private readonly string? _path;

    private CuttingPeer(Socket listener, string uri, string? path, long cutAfter, bool reset)
    {
        _listener = listener;
        _path = path;
        Uri = uri;
        Cut = CutAsync(cutAfter, reset);
    }

    public string Uri { get; }

    /// <summary>Completes with the bytes read when the connection has been cut.</summary>
    public Task<long> Cut { get; }

    public static CuttingPeer Unix(long cutAfter)
    {
        var path = EngineFixture.TempSocketPath();
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        return new CuttingPeer(listener, "unix:" + path, path, cutAfter, reset: false);
    }

    /// <summary>A loopback listener with a small receive buffer (inherited by the accepted socket), so little hides in flight.</summary>
    public static CuttingPeer TcpReset(long cutAfter)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 64 * 1024 };
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        return new CuttingPeer(listener, $"tcp:127.0.0.1:{port}", null, cutAfter, reset: true);
    }

    public void Dispose()
    {
        _listener.Dispose();
        if (_path is not null)
        {
            File.Delete(_path);
        }
    }

    private async Task<long> CutAsync(long cutAfter, bool reset)
    {
        using var socket = await _listener.AcceptAsync().ConfigureAwait(false);
        var buffer = new byte[64 * 1024];
        long read = 0;
        while (read < cutAfter)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, cutAfter - read)), SocketFlags.None).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        if (reset)
        {
            socket.LingerState = new LingerOption(true, 0);
        }

        socket.Close();
        return read;
    }
}
