using Microsoft.AspNetCore.SignalR;

namespace VmConsole.Server.Hubs;

/// <summary>
/// <c>/hubs/console</c>: a client subscribes to VMs, migrations, or everything, and receives each
/// <see cref="IConsoleClient"/> call for what it follows once, however many of its subscriptions it matches.
/// </summary>
[Microsoft.AspNetCore.Authorization.Authorize(Policy = Accounts.Roles.CanView)]
public sealed class ConsoleHub(HubSubscriptions subscriptions, HubSessions sessions) : Hub<IConsoleClient>
{
    public const string Path = "/hubs/console";
    public const string Everything = "all";

    public static string VmGroup(string vm) => $"vm:{vm}";

    public static string MigrationGroup(string id) => $"migration:{id}";

    public Task SubscribeVm(string vm) => Follow(subscriptions.FollowVm(Context.ConnectionId, vm, follow: true));

    public Task UnsubscribeVm(string vm) => Follow(subscriptions.FollowVm(Context.ConnectionId, vm, follow: false));

    public Task SubscribeMigration(string id) => Follow(subscriptions.FollowMigration(Context.ConnectionId, id, follow: true));

    public Task UnsubscribeMigration(string id) => Follow(subscriptions.FollowMigration(Context.ConnectionId, id, follow: false));

    public Task SubscribeAll() => Follow(subscriptions.FollowAll(Context.ConnectionId, follow: true));

    public Task UnsubscribeAll() => Follow(subscriptions.FollowAll(Context.ConnectionId, follow: false));

    public override Task OnConnectedAsync()
    {
        sessions.Opened(Context);
        return base.OnConnectedAsync();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        sessions.Closed(Context);
        subscriptions.Forget(Context.ConnectionId);
        return base.OnDisconnectedAsync(exception);
    }

    private static Task Follow(bool accepted) => accepted
        ? Task.CompletedTask
        : throw new HubException($"A connection follows at most {HubSubscriptions.MaxFollowsPerConnection} VMs and migrations; subscribe to everything instead.");
}
