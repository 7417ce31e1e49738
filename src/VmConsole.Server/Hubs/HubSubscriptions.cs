using System.Collections.Concurrent;

namespace VmConsole.Server.Hubs;

/// <summary>
/// What each hub connection follows: everything, some VMs, some migrations. The forwarder asks it for the
/// connections an event concerns and sends once to each, so a connection that follows a VM, its migration and
/// everything still receives every event exactly once (SignalR groups would deliver it once per group).
/// </summary>
public sealed class HubSubscriptions
{
    // Written by the hub's invocations (one connection's calls run one at a time, but the forwarder reads
    // concurrently from the domain's threads); each connection's follow list is guarded by its own lock.
    private readonly ConcurrentDictionary<string, Follows> _connections = new(StringComparer.Ordinal);

    /// <summary>Most VMs and migrations one connection may follow; beyond that a subscription is refused.</summary>
    public const int MaxFollowsPerConnection = 1000;

    public bool FollowAll(string connectionId, bool follow)
    {
        var follows = For(connectionId);
        lock (follows)
        {
            follows.All = follow;
            return true;
        }
    }

    public bool FollowVm(string connectionId, string vm, bool follow) => Change(For(connectionId).Vms, vm, follow, connectionId);

    public bool FollowMigration(string connectionId, string migrationId, bool follow) => Change(For(connectionId).Migrations, migrationId, follow, connectionId);

    public void Forget(string connectionId) => _connections.TryRemove(connectionId, out _);

    /// <summary>Each connection that follows everything, <paramref name="vm"/>, or <paramref name="migrationId"/>, once.</summary>
    public IReadOnlyList<string> Recipients(string? vm, string? migrationId = null)
    {
        var recipients = new List<string>();
        foreach (var (connectionId, follows) in _connections)
        {
            lock (follows)
            {
                if (follows.All || (vm is not null && follows.Vms.Contains(vm)) || (migrationId is not null && follows.Migrations.Contains(migrationId)))
                {
                    recipients.Add(connectionId);
                }
            }
        }

        return recipients;
    }

    private Follows For(string connectionId) => _connections.GetOrAdd(connectionId, _ => new Follows());

    private bool Change(HashSet<string> set, string key, bool follow, string connectionId)
    {
        var follows = For(connectionId);
        lock (follows)
        {
            if (!follow)
            {
                set.Remove(key);
                return true;
            }

            if (follows.Vms.Count + follows.Migrations.Count >= MaxFollowsPerConnection)
            {
                return false;
            }

            set.Add(key);
            return true;
        }
    }

    private sealed class Follows
    {
        public bool All { get; set; }

        public HashSet<string> Vms { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Migrations { get; } = new(StringComparer.Ordinal);
    }
}
