using Microsoft.AspNetCore.SignalR;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Server.Api;
using VmConsole.Server.Domain;

namespace VmConsole.Server.Hubs;

/// <summary>
/// Forwards the emulator's and the engine's events to the connections that follow them: a VM's changes to
/// those following the VM or everything, a migration's status and progress (already coalesced to ten a second)
/// to those following the migration, its VM, or everything. Each connection gets each event once. Sends are fire-and-forget from the domain's threads; a failed send is logged, never thrown back.
/// </summary>
public sealed class ConsoleEventForwarder(
    Emulator emulator,
    MigrationEngine engine,
    IHubContext<ConsoleHub, IConsoleClient> hub,
    HubSubscriptions subscriptions,
    ILogger<ConsoleEventForwarder> logger,
    IncomingMigrations incoming) : IHostedService
{
    private VmWatch? _watch;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        emulator.InventoryChanged += OnInventoryChanged;
        engine.Started += OnMigrationStarted;
        incoming.Started += OnIncomingStarted;
        _watch = new VmWatch(emulator, OnVmChanged);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        emulator.InventoryChanged -= OnInventoryChanged;
        engine.Started -= OnMigrationStarted;
        incoming.Started -= OnIncomingStarted;
        _watch?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Tells everyone (and the VM's followers) that the audit log has a new line.</summary>
    public void Audited(AuditEntryDto entry) =>
        Send(subscriptions.Recipients(entry.Vm), c => c.AuditAppended(entry));

    /// <summary>Tells the VM's followers and everyone that an action was refused.</summary>
    public void Refused(DomainException refusal)
    {
        var frozen = refusal as MigratableSetFrozenException;
        var dto = new RefusalDto(refusal.Code, refusal.Message, frozen?.Vm, frozen?.Operation, frozen?.Block, frozen?.MigrationId, frozen?.MigrationStatus, DateTimeOffset.UtcNow);
        Send(subscriptions.Recipients(frozen?.Vm), c => c.ActionRefused(dto));
    }

    private void OnInventoryChanged(InventoryChangeKind kind, string name)
    {
        _watch?.Refresh();
        if (kind == InventoryChangeKind.VmRemoved)
        {
            Send(ToVmAndEveryone(name), c => c.VmRemoved(name));
        }
        else if (kind == InventoryChangeKind.VmArriving && emulator.TryGetArriving(name, out var arriving))
        {
            // A VM arriving from QEMU: listed in inmigrate, with its blocks once the stream's RAM setup made them.
            // Reserved before its migration is registered here, it is said by OnIncomingStarted, with the migration's id.
            var dto = arriving.ToDto(incoming);
            if (dto.ActiveMigrationId is not null)
            {
                Send(ToVmAndEveryone(name), c => c.VmChanged(dto));
            }

            if (arriving.Received is not null)
            {
                var blocks = arriving.BlocksDto();
                Send(ToVmAndEveryone(name), c => c.RamBlocksChanged(name, blocks));
            }
        }
        else if (emulator.TryGetVm(name, out var vm))
        {
            OnVmChanged(vm, VmChangeKind.RunState);
        }
    }

    private void OnVmChanged(Vm vm, VmChangeKind kind)
    {
        if (!emulator.TryGetVm(vm.Name, out var current) || current != vm)
        {
            return;
        }

        if (kind is VmChangeKind.RamBlocks or VmChangeKind.Devices && _blocksPending.TryAdd(vm, 0))
        {
            _ = SendBlocksSoonAsync(vm);
        }

        var recipients = ToVmAndEveryone(vm.Name);
        if (recipients.Count > 0)
        {
            var dto = vm.ToDto(engine);
            Send(recipients, c => c.VmChanged(dto));
        }
    }

    /// <summary>A burst of block changes sends one list after this long: the latest.</summary>
    public static readonly TimeSpan BlockListInterval = TimeSpan.FromMilliseconds(100);

    // VMs whose block list is about to be sent. Added on the event's thread, removed by the send just before
    // it reads the list, so a change after that read queues another send.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Vm, byte> _blocksPending = new(ReferenceEqualityComparer.Instance);

    private async Task SendBlocksSoonAsync(Vm vm)
    {
        try
        {
            await Task.Delay(BlockListInterval).ConfigureAwait(false);
            _blocksPending.TryRemove(vm, out _);
            var recipients = ToVmAndEveryone(vm.Name);
            if (recipients.Count > 0 && emulator.TryGetVm(vm.Name, out var current) && current == vm)
            {
                var blocks = vm.RamBlocks.Select(b => b.ToDto()).ToList();
                Send(recipients, c => c.RamBlocksChanged(vm.Name, blocks));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            HubLog.SendFailed(logger, ex);
        }
    }

    private void OnMigrationStarted(PrecopyMigration migration)
    {
        migration.StatusChanged += (m, _) =>
        {
            var dto = m.ToDto();
            Send(ToMigrationAndEveryone(m), c => c.MigrationStatusChanged(dto));
        };
        migration.Progress += m =>
        {
            var dto = m.ToDto();
            Send(ToMigrationAndEveryone(m), c => c.MigrationProgress(dto));
        };
        var started = migration.ToDto();
        Send(ToMigrationAndEveryone(migration), c => c.MigrationStatusChanged(started));
    }

    /// <summary>A migration from QEMU: the same messages as the engine's, so that clients need no special case.</summary>
    private void OnIncomingStarted(IncomingMigration migration)
    {
        migration.StatusChanged += (m, _) =>
        {
            var dto = m.ToDto();
            Send(subscriptions.Recipients(m.VmName, m.Id), c => c.MigrationStatusChanged(dto));
        };
        migration.Progress += m =>
        {
            var dto = m.ToDto();
            Send(subscriptions.Recipients(m.VmName, m.Id), c => c.MigrationProgress(dto));
        };
        var started = migration.ToDto();
        Send(subscriptions.Recipients(migration.VmName, migration.Id), c => c.MigrationStatusChanged(started));

        // The VM was reserved (VmArriving) before its migration was known here: say it now, with the migration's id.
        if (emulator.TryGetArriving(migration.VmName, out var arriving))
        {
            var vm = arriving.ToDto(incoming);
            Send(ToVmAndEveryone(migration.VmName), c => c.VmChanged(vm));
        }
    }

    private IReadOnlyList<string> ToVmAndEveryone(string vm) => subscriptions.Recipients(vm);

    private IReadOnlyList<string> ToMigrationAndEveryone(PrecopyMigration m) => subscriptions.Recipients(m.VmName, m.Id);

    private void Send(IReadOnlyList<string> connectionIds, Func<IConsoleClient, Task> send)
    {
        if (connectionIds.Count > 0)
        {
            _ = SendAsync(hub.Clients.Clients(connectionIds), send);
        }
    }

    private async Task SendAsync(IConsoleClient clients, Func<IConsoleClient, Task> send)
    {
        try
        {
            await send(clients).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            HubLog.SendFailed(logger, ex);
        }
    }
}

internal static partial class HubLog
{
    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "A hub message could not be sent")]
    public static partial void SendFailed(ILogger logger, Exception exception);
}
