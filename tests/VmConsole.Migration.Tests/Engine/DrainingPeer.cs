using System.Net.Sockets;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>An external migration peer on a unix socket that reads everything on its own thread and throws it away.</summary>
internal sealed class DrainingPeer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Thread _thread;
    private Socket? _accepted;
    private long _bytesRead;

    private DrainingPeer(string path)
    {
        Path = path;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(1);
        _thread = new Thread(Drain) { IsBackground = true, Name = "draining peer" };
        _thread.Start();
    }

    public string Path { get; }

    public string Uri => "unix:" + Path;

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public static DrainingPeer Listen() => new(EngineFixture.TempSocketPath());

    public ValueTask DisposeAsync()
    {
        _listener.Dispose();
        _accepted?.Dispose();
        _thread.Join(TimeSpan.FromSeconds(5));
        File.Delete(Path);
        return ValueTask.CompletedTask;
    }

    private void Drain()
    {
        try
        {
            _accepted = _listener.Accept();
            var buffer = new byte[1 << 20];
            int read;
            while ((read = _accepted.Receive(buffer)) > 0)
            {
                Interlocked.Add(ref _bytesRead, read);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The test disposed the peer, or the engine reset the connection: either way the drain is over.
        }
    }
}
