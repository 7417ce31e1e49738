using System.Collections.Concurrent;
using System.Threading.Channels;
using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Model;
using VmConsole.Server.Api;
using VmConsole.Server.Domain;

namespace VmConsole.Server.Events;

/// <summary>
/// The one event path of the server: subscribes once to the domain's events (the inventory, every VM, every migration
/// of any kind) and takes the action log's lines and refusals, and hands them, in the order they happened, through a
/// bounded channel to every <see cref="IConsoleEventSink"/> (the hub sender, the recorder). The domain's threads only
/// queue; one reader calls the sinks. A burst of changes of one VM is one event (its readers read the latest state).
/// On stop, the domain is let go of and what is queued is still handed on before the reader ends.
/// </summary>
public sealed class ConsoleEventBus(
    VmInventory inventory, MigrationRegistry migrations, IEnumerable<IConsoleEventSink> sinks, TimeProvider time, ILogger<ConsoleEventBus> logger) : BackgroundService
{
    /// <summary>How many events may wait; past it a publisher waits for the reader (never happens in practice: VM bursts are coalesced, progress is ten a second).</summary>
    public const int Capacity = 10_000;

    private readonly Channel<ConsoleEvent> _channel = Channel.CreateBounded<ConsoleEvent>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly IConsoleEventSink[] _sinks = [.. sinks];

    // VMs with a VmChanged queued and not yet taken by the reader, with what it covers. Added on the domain's thread,
    // removed by the reader before it hands the event on, so a change after that queues another event.
    private readonly ConcurrentDictionary<IVirtualMachine, PendingChange> _pendingVms = new(ReferenceEqualityComparer.Instance);

    private VmWatch? _watch;
    private bool _stopping;

    /// <summary>Queues <paramref name="consoleEvent"/> behind everything that happened before it.</summary>
    public void Publish(ConsoleEvent consoleEvent)
    {
        if (_channel.Writer.TryWrite(consoleEvent))
        {
            return;
        }

        try
        {
            if (!Volatile.Read(ref _stopping))
            {
                // Full: the reader is far behind. Wait for room rather than lose an event.
                EventLog.ChannelFull(logger, Capacity);
            }

            _channel.Writer.WriteAsync(consoleEvent).AsTask().GetAwaiter().GetResult();
        }
        catch (ChannelClosedException)
        {
            // Stopping: nobody reads any more. Whoever waits for this line to be committed is told it was not.
            EventLog.PublishedAfterStop(logger, consoleEvent.GetType().Name);
            (consoleEvent as ActionRecorded)?.Committed?.TrySetCanceled();
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        inventory.InventoryChanged += OnInventoryChanged;
        migrations.Started += OnMigrationStarted;
        _watch = new VmWatch(inventory, OnVmChanged);

        // Migrations registered before the console took events (a QEMU migration followed again after a restart): their
        // states from now on, and the one they are in, which may already be their last.
        foreach (var migration in migrations.All)
        {
            migration.StatusChanged += OnMigrationStatusChanged;
            migration.Progress += OnMigrationProgress;
            OnMigrationStatusChanged(migration, migration.Status);
        }

        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        inventory.InventoryChanged -= OnInventoryChanged;
        migrations.Started -= OnMigrationStarted;
        _watch?.Dispose();
        foreach (var migration in migrations.All)
        {
            migration.StatusChanged -= OnMigrationStatusChanged;
            migration.Progress -= OnMigrationProgress;
        }

        Volatile.Write(ref _stopping, true);

        // What is queued is handed on (the last audit lines, a migration's final state) unless the host gives up waiting.
        _channel.Writer.TryComplete();
        try
        {
            await _channel.Reader.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _channel.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (_channel.Reader.TryRead(out var consoleEvent))
                {
                    Dispatch(consoleEvent);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Dispatch(ConsoleEvent consoleEvent)
    {
        if (consoleEvent is VmChanged queued)
        {
            // Taken now, with everything it came to cover while it waited: a change from here on queues its own event.
            consoleEvent = _pendingVms.TryRemove(queued.Vm, out var pending) ? new VmChanged(queued.Vm, pending.Definition, pending.Blocks) : queued;
        }

        foreach (var sink in _sinks)
        {
            try
            {
                sink.Handle(consoleEvent);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                EventLog.SinkFailed(logger, ex, sink.GetType().Name, consoleEvent.GetType().Name);
            }
        }
    }

    private void OnInventoryChanged(InventoryChangeKind kind, string name)
    {
        _watch?.Refresh();
        Publish(new InventoryChanged(kind, name));
    }

    private void OnVmChanged(IVirtualMachine vm, VmChangeKind kind)
    {
        var definition = kind != VmChangeKind.Freeze;
        var blocks = kind is VmChangeKind.RamBlocks or VmChangeKind.Devices;
        while (true)
        {
            if (_pendingVms.TryGetValue(vm, out var pending))
            {
                // Already queued: widen what it covers, unless the reader took it meanwhile (then queue another).
                if ((pending.Definition || !definition) && (pending.Blocks || !blocks))
                {
                    return;
                }

                if (_pendingVms.TryUpdate(vm, new PendingChange(pending.Definition || definition, pending.Blocks || blocks), pending))
                {
                    return;
                }

                continue;
            }

            if (_pendingVms.TryAdd(vm, new PendingChange(definition, blocks)))
            {
                // What it covers is read when it is handed on (Dispatch), so that widening above still counts.
                Publish(new VmChanged(vm, definition, blocks));
                return;
            }
        }
    }

    private void OnMigrationStarted(IMigration migration)
    {
        migration.StatusChanged += OnMigrationStatusChanged;
        migration.Progress += OnMigrationProgress;
        Publish(new MigrationStarted(migration, migration.ToDto()));
    }

    private void OnMigrationStatusChanged(IMigration migration, MigrationStatus status)
    {
        var at = migration.Events.LastOrDefault(e => e.Status == status).At;
        Publish(new MigrationStatusChanged(migration, status, at == default ? time.GetUtcNow() : at, migration.GetStats(), migration.ToDto()));
    }

    private void OnMigrationProgress(IMigration migration) =>
        Publish(new MigrationProgressed(migration, time.GetUtcNow(), migration.GetStats(), migration.ToDto()));

    private readonly record struct PendingChange(bool Definition, bool Blocks);
}
