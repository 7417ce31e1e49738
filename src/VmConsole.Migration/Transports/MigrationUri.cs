using System.Globalization;
using System.Net;
using System.Text;
using VmConsole.Emulation;

namespace VmConsole.Migration.Transports;

/// <summary>
/// A migration URI as QEMU names them: <c>unix:PATH</c>, <c>tcp:HOST:PORT</c> (loopback addresses only) or
/// <c>file:PATH</c>.
/// </summary>
public sealed record MigrationUri(TransportKind Kind, string Path, IPAddress? Address, int Port)
{
    /// <summary>The longest unix socket path (sun_path less its terminating NUL).</summary>
    public const int MaxUnixPathLength = 107;

    public static MigrationUri Parse(string? uri)
    {
        if (string.IsNullOrWhiteSpace(uri))
        {
            throw Invalid("A migration URI is needed: unix:PATH, tcp:HOST:PORT or file:PATH.");
        }

        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon < 0 ? uri : uri[..colon];
        var rest = colon < 0 ? "" : uri[(colon + 1)..];
        switch (scheme)
        {
            case "unix":
                if (rest.Length == 0 || Encoding.UTF8.GetByteCount(rest) > MaxUnixPathLength || rest.Contains('\0', StringComparison.Ordinal))
                {
                    throw Invalid($"'{Names.Shorten(uri)}' needs a unix socket path of 1 to {MaxUnixPathLength} bytes.");
                }

                return new MigrationUri(TransportKind.Unix, System.IO.Path.GetFullPath(rest), null, 0);
            case "file":
                if (rest.Length == 0 || rest.Contains('\0', StringComparison.Ordinal))
                {
                    throw Invalid($"'{Names.Shorten(uri)}' needs a file path.");
                }

                return new MigrationUri(TransportKind.File, System.IO.Path.GetFullPath(rest), null, 0);
            case "tcp":
                return ParseTcp(uri, rest);
            default:
                throw Invalid($"Migration URI scheme '{Names.Shorten(scheme)}' is not supported; use unix:PATH, tcp:HOST:PORT or file:PATH.");
        }
    }

    public override string ToString() => Kind switch
    {
        TransportKind.Unix => $"unix:{Path}",
        TransportKind.File => $"file:{Path}",
        _ => Address!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"tcp:[{Address}]:{Port}" : $"tcp:{Address}:{Port}",
    };

    private static MigrationUri ParseTcp(string uri, string rest)
    {
        var lastColon = rest.LastIndexOf(':');
        if (lastColon <= 0)
        {
            throw Invalid($"'{Names.Shorten(uri)}' needs a host and a port: tcp:127.0.0.1:4444.");
        }

        var host = rest[..lastColon].Trim('[', ']');
        if (!int.TryParse(rest[(lastColon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw Invalid($"'{Names.Shorten(uri)}' needs a port between 1 and 65535.");
        }

        IPAddress? address = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host, out var parsed) ? parsed : null;
        if (address is null || !IPAddress.IsLoopback(address))
        {
            throw Invalid($"'{Names.Shorten(uri)}': VmConsole migrates over loopback addresses only (127.0.0.0/8, ::1, localhost).");
        }

        return new MigrationUri(TransportKind.Tcp, "", address, port);
    }

    private static DomainException Invalid(string message) => DomainException.Invalid(ErrorCodes.InvalidUri, message);
}
