using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Persistence.Records;
using VmConsole.Server.Api;
using VmConsole.Server.Events;

namespace VmConsole.Server.Recording;

/// <summary>
/// Keeps the database in step with the console, as a reader of the event path: every VM's definition and layout as
/// it changes, every migration of any kind with its state changes, statistics and progress samples, and the audit
/// log. All writes go through the <see cref="ConsoleStore"/> queue. Migration records are built from what the event
/// carries (the state on the thread that made the change); a VM's definition is read when its write is taken, so it
/// is the latest.
/// </summary>
public sealed class ConsoleRecorder(Emulator emulator, ConsoleStore store, TimeProvider time, VmConsole.Emulation.Drivers.VmInventory? inventory = null) : IConsoleEventSink, IHostedService
{
    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(500);

    // The last progress sample written per migration (timestamps), touched only by the event path's reader.
    private readonly Dictionary<string, (long At, MigrationStatus Status)> _lastSample = new(StringComparer.Ordinal);

    /// <summary>The hosts as they are, and every VM's definition, before the first event.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var host in emulator.Hosts)
        {
            var record = new HostRecord { Name = host.Name, CapacityBytes = host.CapacityBytes };
            store.Enqueue(async db =>
            {
                await db.Hosts.Where(h => h.Name == record.Name).ExecuteDeleteAsync().ConfigureAwait(false);
                db.Hosts.Add(record);
            });
        }

        foreach (var vm in emulator.Vms)
        {
            SaveVm(vm);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A line was queued for the audit log (raised on the event path's reader).</summary>
    public event Action<AuditLine>? Appended;

    public void Handle(ConsoleEvent consoleEvent)
    {
        switch (consoleEvent)
        {
            case InventoryChanged { Kind: InventoryChangeKind.VmRemoved } e:
                store.Enqueue(db => db.Vms.Where(v => v.Name == e.Name).ExecuteDeleteAsync());
                break;
            case InventoryChanged { Kind: InventoryChangeKind.VmAdded or InventoryChangeKind.VmMoved } e when emulator.TryGetVm(e.Name, out var vm):
                SaveVm(vm);
                break;
            // Emulated VMs' definitions live in the database; the QEMU driver keeps its own in its runtime directories.
            case VmChanged { Definition: true } e when emulator.TryGetVm(e.Vm.Name, out var current) && ReferenceEquals(current, e.Vm):
                SaveVm(current);
                break;
            case MigrationStarted e:
                SaveStarted(e.Snapshot);
                break;
            case MigrationStatusChanged e:
                SaveStatus(e);
                break;
            case MigrationProgressed e:
                SaveSample(e);
                break;
            case ActionRecorded e:
                Write(e.Line, e.Committed);
                break;
        }
    }

    private void Write(AuditLine line, TaskCompletionSource? committed)
    {
        var entry = line.Cut();
        var record = new AuditRecord
        {
            At = entry.At,
            User = entry.User,
            Action = entry.Action,
            Target = entry.Target,
            Vm = entry.Vm,
            Allowed = entry.Allowed,
            Code = entry.Code,
            Reason = entry.Reason,
            Count = entry.Count,
        };
        store.Enqueue(db =>
        {
            db.AuditLog.Add(record);
            return Task.CompletedTask;
        });
        if (committed is not null)
        {
            // Every write queued before the line (the changes the action made came first on the event path) is in this flush.
            _ = CompleteWhenFlushedAsync(committed);
        }

        Appended?.Invoke(entry);
    }

    private async Task CompleteWhenFlushedAsync(TaskCompletionSource committed)
    {
        try
        {
            await store.FlushAsync().ConfigureAwait(false);
            committed.TrySetResult();
        }
        catch (Exception ex)
        {
            committed.TrySetException(ex);
        }
    }

    public static VmRecord Snapshot(Vm vm) => new()
    {
        Id = vm.Id,
        Name = vm.Name,
        Host = vm.Host.Name,
        Machine = vm.Machine.Name,
        MemoryBytes = vm.MemoryBytes,
        Slots = vm.Slots,
        MaxMemBytes = vm.MaxMemBytes,
        MainRamBackend = vm.Definition.MainRamBackend,
        NumaNodes = [.. vm.Definition.NumaNodes.Select((n, i) => new NumaNodeRecord { Node = i, Memdev = n.Memdev, SizeBytes = n.SizeBytes })],
        WorkloadKind = vm.Workload.Spec.Kind.ToString(),
        PagesPerSecond = vm.Workload.Spec.PagesPerSecond,
        WorkingSetBytes = vm.Workload.Spec.WorkingSetBytes,
        RunState = vm.RunState.ToQemuName(),
        UpdatedAt = DateTimeOffset.UtcNow,
        LastBlockId = vm.LastBlockId,
        Blocks = [.. vm.RamBlocks.Select((b, i) => new RamBlockRecord
        {
            Position = i,
            BlockId = b.Id,
            IdStr = b.BackendId is null ? b.IdStr : "",
            BackendId = b.BackendId,
            UsedLength = b.UsedLength,
            MaxLength = b.MaxLength,
            Migratable = b.Migratable,
        })],
        Devices = [.. vm.Devices.Select(d => new DeviceRecord { DeviceId = d.Id, Driver = d.Driver, Memdev = d.Memdev })],
        DeviceStateFields = vm.DeviceState?.DescriptionFields,
        DeviceSections = vm.DeviceState is { } state
            ? [.. state.Sections.Select((s, i) => new DeviceSectionRecord
            {
                Position = i,
                IdStr = s.IdStr,
                InstanceId = s.InstanceId,
                VersionId = s.VersionId,
                State = s.State.ToArray(),
                Description = s.Description,
            })]
            : [],
    };

    // VMs with a definition write queued and not yet taken by the writer. Added on the event's thread, removed
    // by the writer just before it takes the snapshot; keyed by the Vm object (a migrated VM's destination is
    // another object with the same id, and gets its own write).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Vm, byte> _vmsPending = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Queues a write of <paramref name="vm"/>'s definition, unless one is queued already: the writer takes the
    /// snapshot when it gets there, so a burst of changes (10,000 backends added) is one write of the latest
    /// state, not one write per change.
    /// </summary>
    private void SaveVm(Vm vm)
    {
        if (!_vmsPending.TryAdd(vm, 0))
        {
            return;
        }

        store.Enqueue(async db =>
        {
            _vmsPending.TryRemove(vm, out _);
            var record = Snapshot(vm);
            await db.Vms.Where(v => v.Id == record.Id || v.Name == record.Name).ExecuteDeleteAsync().ConfigureAwait(false);
            db.Vms.Add(record);
        });
    }

    private void SaveStarted(MigrationDto migration)
    {
        var record = new MigrationRecord
        {
            Id = migration.Id,
            Vm = migration.Vm,
            SourceHost = migration.SourceHost,
            Direction = migration.Direction,
            DestinationHost = migration.DestinationHost,
            Uri = migration.Uri,
            Status = migration.Status,
            ParametersJson = JsonSerializer.Serialize(migration.Parameters, JsonSerializerOptions.Web),
            CapabilitiesJson = JsonSerializer.Serialize(migration.Capabilities, JsonSerializerOptions.Web),
            StartedAt = migration.Events[0].At,
            Events = [.. migration.Events.Select(e => new MigrationEventRecord { MigrationId = migration.Id, Status = e.Status, At = e.At })],
        };
        store.Enqueue(db =>
        {
            db.Migrations.Add(record);
            return Task.CompletedTask;
        });
    }

    private void SaveStatus(MigrationStatusChanged e)
    {
        var id = e.Migration.Id;
        var status = e.Status;
        var verified = e.Snapshot.Verified;
        var statsJson = JsonSerializer.Serialize(e.Stats, JsonSerializerOptions.Web);
        var error = e.Stats.ErrorDesc;
        var ended = status.IsFinal() ? e.At : (DateTimeOffset?)null;
        store.Enqueue(async db =>
        {
            db.MigrationEvents.Add(new MigrationEventRecord { MigrationId = id, Status = status.ToQemuName(), At = e.At });
            await db.Migrations.Where(m => m.Id == id).ExecuteUpdateAsync(set => set
                .SetProperty(m => m.Status, status.ToQemuName())
                .SetProperty(m => m.StatsJson, statsJson)
                .SetProperty(m => m.ErrorDesc, error)
                .SetProperty(m => m.Verified, verified)
                .SetProperty(m => m.EndedAt, ended)).ConfigureAwait(false);
        });
    }

    /// <summary>
    /// About two samples a second for the charts, one whenever the status changes (the figures a migration waits with at
    /// pre-switchover), and the last one of a finished migration.
    /// </summary>
    private void SaveSample(MigrationProgressed e)
    {
        var now = time.GetTimestamp();
        var id = e.Migration.Id;
        if (_lastSample.TryGetValue(id, out var previous) && time.GetElapsedTime(previous.At, now) < SampleEvery
            && previous.Status == e.Stats.Status && !e.Stats.Status.IsFinal())
        {
            return;
        }

        // The final sample is the last: its migration needs no entry any more.
        if (e.Stats.Status.IsFinal())
        {
            _lastSample.Remove(id);
        }
        else
        {
            _lastSample[id] = (now, e.Stats.Status);
        }
        var s = e.Stats;
        var sample = new ProgressSampleRecord
        {
            MigrationId = id,
            At = e.At,
            Transferred = s.Transferred,
            Remaining = s.Remaining,
            DirtyPagesRate = s.DirtyPagesRate,
            LiveDirtyPagesRate = inventory is null ? null : Domain.LiveDirtyRate.PagesPerSecond(inventory, e.Migration),
            Mbps = s.Mbps,
            DirtySyncCount = s.DirtySyncCount,
            ExpectedDowntime = s.ExpectedDowntime,
            CpuThrottlePercentage = s.CpuThrottlePercentage,
        };
        var statsJson = JsonSerializer.Serialize(s, JsonSerializerOptions.Web);
        store.EnqueueSample(async db =>
        {
            db.ProgressSamples.Add(sample);
            await db.Migrations.Where(m => m.Id == id).ExecuteUpdateAsync(set => set.SetProperty(m => m.StatsJson, statsJson)).ConfigureAwait(false);
        });
    }
}
