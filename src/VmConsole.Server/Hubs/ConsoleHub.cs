using Microsoft.AspNetCore.SignalR;
using VmConsole.Server.Api;

namespace VmConsole.Server.Hubs;

/// <summary>What the console pushes to its live clients (the same data the UI shows).</summary>
public interface IConsoleClient
{
    Task VmChanged(VmDto vm);

    Task RamBlocksChanged(string vm, IReadOnlyList<RamBlockDto> blocks);

    Task VmRemoved(string vm);

    Task MigrationStatusChanged(MigrationDto migration);

    /// <summary>At most ten a second per migration; each carries the latest numbers.</summary>
    Task MigrationProgress(MigrationDto migration);

    Task ActionRefused(RefusalDto refusal);

    Task AuditAppended(AuditEntryDto entry);
}

/// <summary>One audit log line, as the hub and the audit API show it.</summary>
public sealed record AuditEntryDto(DateTimeOffset At, string User, string Action, string Target, string? Vm, bool Allowed, string? Code, string? Reason, int Count = 1);

/// <summary>A refused action, as the hub tells it: what, on which VM and block, and why (with the migration for a freeze).</summary>
public sealed record RefusalDto(string Code, string Message, string? Vm, string? Operation, string? Block, string? MigrationId, string? MigrationStatus, DateTimeOffset At);

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
