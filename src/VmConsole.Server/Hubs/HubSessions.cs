using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Hubs;

/// <summary>
/// The hub connections of each session, so that a session that ends (signed out, password changed, user
/// deleted) loses its live connections at once: a SignalR connection is authorized when it opens, and would
/// otherwise go on receiving after its cookie is refused everywhere else.
/// </summary>
public sealed class HubSessions : IDisposable
{
    private readonly SessionRegistry _sessions;

    // Open connections by session id, then by connection id. Added and removed by the hub (any thread).
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, HubCallerContext>> _connections = new(StringComparer.Ordinal);

    public HubSessions(SessionRegistry sessions)
    {
        _sessions = sessions;
        _sessions.Ended += OnEnded;
    }

    /// <summary>Follows <paramref name="connection"/>; aborts it at once when its session is no longer live.</summary>
    public void Opened(HubCallerContext connection)
    {
        var id = connection.User?.FindFirst(SessionRegistry.ClaimType)?.Value;
        if (id is null)
        {
            connection.Abort();
            return;
        }

        _connections.GetOrAdd(id, _ => new(StringComparer.Ordinal))[connection.ConnectionId] = connection;
        // The session may have ended between the connection's authorization and here.
        if (!_sessions.TryGet(id, out _))
        {
            AbortAll(id);
        }
    }

    public void Closed(HubCallerContext connection)
    {
        var id = connection.User?.FindFirst(SessionRegistry.ClaimType)?.Value;
        if (id is not null && _connections.TryGetValue(id, out var open))
        {
            open.TryRemove(connection.ConnectionId, out _);
        }
    }

    public void Dispose() => _sessions.Ended -= OnEnded;

    private void OnEnded(ConsoleSession session) => AbortAll(session.Id);

    private void AbortAll(string id)
    {
        if (_connections.TryRemove(id, out var open))
        {
            foreach (var connection in open.Values)
            {
                connection.Abort();
            }
        }
    }
}
