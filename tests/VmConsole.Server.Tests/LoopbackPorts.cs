using System.Net;
using System.Net.Sockets;

namespace VmConsole.Server.Tests;

internal static class LoopbackPorts
{
    /// <summary>A loopback TCP port nobody listens on now (the kernel's pick, released at once).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
