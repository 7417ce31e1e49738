using Microsoft.AspNetCore.SignalR;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Server.Api;
using VmConsole.Server.Emulation;

namespace VmConsole.Server.Hubs;

/// <summary>
/// Forwards the emulator's and the engine's events to hub groups: a VM's changes to its group and to
/// everyone, a migration's status and progress (already coalesced to ten a second) to its group and to
/// everyone. Sends are fire-and-forget from the domain's threads; a failed send is logged, never thrown back.
/// </summary>
public sealed class ConsoleEventForwarder(
    Emulator emulator,
    MigrationEngine engine,
    IHubContext<ConsoleHub, IConsoleClient> hub,
    ILogger<ConsoleEventForwarder> logger) : IHostedService
{
    private VmWatch? _watch;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        emulator.InventoryChanged += OnInventoryChanged;
        engine.Started += OnMigrationStarted;
        _watch = new VmWatch(emulator, OnVmChanged);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        emulator.InventoryChanged -= OnInventoryChanged;
        engine.Started -= OnMigrationStarted;
        _watch?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Tells everyone (and the VM's followers) that the audit log has a new line.</summary>
    public void Audited(AuditEntryDto entry) =>
        Send(entry.Vm is null ? hub.Clients.Group(ConsoleHub.Everything) : ToVmAndEveryone(entry.Vm), c => c.AuditAppended(entry));

    /// <summary>Tells the VM's followers and everyone that an action was refused.</summary>
    public void Refused(EmulationException refusal)
    {
        var frozen = refusal as MigratableSetFrozenException;
        var dto = new RefusalDto(refusal.Code, refusal.Message, frozen?.Vm, frozen?.Operation, frozen?.Block, frozen?.MigrationId, frozen?.MigrationStatus, DateTimeOffset.UtcNow);
        Send(frozen is null ? hub.Clients.Group(ConsoleHub.Everything) : hub.Clients.Groups(ConsoleHub.Everything, ConsoleHub.VmGroup(frozen.Vm)), c => c.ActionRefused(dto));
    }

    private void OnInventoryChanged(InventoryChangeKind kind, string name)
    {
        _watch?.Refresh();
        if (kind == InventoryChangeKind.VmRemoved)
        {
            Send(ToVmAndEveryone(name), c => c.VmRemoved(name));
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

        if (kind is VmChangeKind.RamBlocks or VmChangeKind.Devices)
        {
            var blocks = vm.RamBlocks.Select(b => b.ToDto()).ToList();
            Send(ToVmAndEveryone(vm.Name), c => c.RamBlocksChanged(vm.Name, blocks));
        }

        var dto = vm.ToDto(engine);
        Send(ToVmAndEveryone(vm.Name), c => c.VmChanged(dto));
    }

    private void OnMigrationStarted(VmConsole.Migration.Engine.Migration migration)
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

    private IConsoleClient ToVmAndEveryone(string vm) => hub.Clients.Groups(ConsoleHub.Everything, ConsoleHub.VmGroup(vm));

    private IConsoleClient ToMigrationAndEveryone(VmConsole.Migration.Engine.Migration m) =>
        hub.Clients.Groups(ConsoleHub.Everything, ConsoleHub.MigrationGroup(m.Id), ConsoleHub.VmGroup(m.VmName));

    private void Send(IConsoleClient clients, Func<IConsoleClient, Task> send) =>
        _ = SendAsync(clients, send);

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
