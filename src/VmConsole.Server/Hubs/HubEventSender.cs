using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Model;
using VmConsole.Server.Api;
using VmConsole.Server.Events;

namespace VmConsole.Server.Hubs;

/// <summary>
/// The hub's reader of the event path: a VM's changes go to those following the VM or everything, a migration's status
/// and progress to those following the migration, its VM, or everything, audit lines and refusals to the VM's
/// followers and everyone. Each connection gets each event once. Sends are fire-and-forget; a failed send is logged,
/// never thrown back.
/// </summary>
public sealed class HubEventSender(
    Emulator emulator,
    VmInventory inventory,
    MigrationRegistry migrations,
    IHubContext<ConsoleHub, IConsoleClient> hub,
    HubSubscriptions subscriptions,
    TimeProvider time,
    ILogger<HubEventSender> logger) : IConsoleEventSink
{
    /// <summary>A burst of block changes sends one list after this long: the latest.</summary>
    public static readonly TimeSpan BlockListInterval = TimeSpan.FromMilliseconds(100);

    // VMs whose block list is about to be sent. Added by Handle, removed by the send just before it reads the list,
    // so a change after that read queues another send.
    private readonly ConcurrentDictionary<IVirtualMachine, byte> _blocksPending = new(ReferenceEqualityComparer.Instance);

    public void Handle(ConsoleEvent consoleEvent)
    {
        switch (consoleEvent)
        {
            case InventoryChanged e:
                OnInventoryChanged(e.Kind, e.Name);
                break;
            case VmChanged e:
                OnVmChanged(e.Vm, e.Blocks);
                break;
            case MigrationStarted e:
                OnMigrationStarted(e.Migration, e.Snapshot);
                break;
            case MigrationStatusChanged e:
                Send(subscriptions.Recipients(e.Migration.VmName, e.Migration.Id), c => c.MigrationStatusChanged(e.Snapshot));
                break;
            case MigrationProgressed e:
                Send(subscriptions.Recipients(e.Migration.VmName, e.Migration.Id), c => c.MigrationProgress(e.Snapshot));
                break;
            case ActionRecorded e:
                var line = e.Line.Cut();
                var entry = new AuditEntryDto(line.At, line.User, line.Action, line.Target, line.Vm, line.Allowed, line.Code, line.Reason, line.Count);
                Send(subscriptions.Recipients(entry.Vm), c => c.AuditAppended(entry));
                break;
            case ActionRefused e:
                var frozen = e.Refusal as MigratableSetFrozenException;
                var dto = new RefusalDto(e.Refusal.Code, e.Refusal.Message, frozen?.Vm, frozen?.Operation, frozen?.Block, frozen?.MigrationId, frozen?.MigrationStatus, e.At);
                Send(subscriptions.Recipients(frozen?.Vm), c => c.ActionRefused(dto));
                break;
        }
    }

    private void OnInventoryChanged(InventoryChangeKind kind, string name)
    {
        if (kind == InventoryChangeKind.VmRemoved)
        {
            Send(subscriptions.Recipients(name), c => c.VmRemoved(name));
        }
        else if (kind == InventoryChangeKind.VmArriving && !inventory.TryGet(name, out _) && emulator.TryGetArriving(name, out var arriving))
        {
            // A VM arriving from QEMU: listed in inmigrate, with its blocks once the stream's RAM setup made them.
            // Reserved before its migration is registered, it is said by OnMigrationStarted, with the migration's id.
            var dto = arriving.ToDto(migrations);
            if (dto.ActiveMigrationId is not null)
            {
                Send(subscriptions.Recipients(name), c => c.VmChanged(dto));
            }

            if (arriving.Received is not null)
            {
                var blocks = arriving.BlocksDto();
                Send(subscriptions.Recipients(name), c => c.RamBlocksChanged(name, blocks));
            }
        }
        else if (inventory.TryGet(name, out var vm))
        {
            OnVmChanged(vm, blocks: kind == InventoryChangeKind.VmMoved && vm.Driver == VmConsole.Emulation.Drivers.DriverKind.Qemu);
        }
    }

    private void OnVmChanged(IVirtualMachine vm, bool blocks)
    {
        if (!inventory.TryGet(vm.Name, out var current) || !ReferenceEquals(current, vm))
        {
            return;
        }

        if (blocks && _blocksPending.TryAdd(vm, 0))
        {
            _ = SendBlocksSoonAsync(vm);
        }

        var recipients = subscriptions.Recipients(vm.Name);
        if (recipients.Count > 0)
        {
            var dto = vm.ToDto(migrations);
            Send(recipients, c => c.VmChanged(dto));
        }
    }

    private async Task SendBlocksSoonAsync(IVirtualMachine vm)
    {
        try
        {
            await Task.Delay(BlockListInterval, time).ConfigureAwait(false);
            _blocksPending.TryRemove(vm, out _);
            var recipients = subscriptions.Recipients(vm.Name);
            if (recipients.Count > 0 && inventory.TryGet(vm.Name, out var current) && ReferenceEquals(current, vm))
            {
                var blocks = (await vm.GetRamBlocksAsync().ConfigureAwait(false)).Select(b => b.ToDto()).ToList();
                Send(recipients, c => c.RamBlocksChanged(vm.Name, blocks));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            HubLog.SendFailed(logger, ex);
        }
    }

    private void OnMigrationStarted(IMigration migration, MigrationDto snapshot)
    {
        Send(subscriptions.Recipients(migration.VmName, migration.Id), c => c.MigrationStatusChanged(snapshot));

        // A VM arriving from QEMU was reserved (VmArriving) before its migration was known: say it now, with the migration's id.
        if (!inventory.TryGet(migration.VmName, out _) && emulator.TryGetArriving(migration.VmName, out var arriving))
        {
            var vm = arriving.ToDto(migrations);
            Send(subscriptions.Recipients(migration.VmName), c => c.VmChanged(vm));
        }
    }

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
