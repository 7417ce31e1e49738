using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Persistence.Records;
using VmConsole.Server.Domain;

namespace VmConsole.Server.Recording;

/// <summary>
/// Keeps the database in step with the console: every VM's definition and layout as it changes, every
/// migration with its state changes, statistics and progress samples, and the audit log. All writes go
/// through the <see cref="ConsoleStore"/> queue. Migration and audit records are built on the event's thread, so
/// they are the state at that moment; a VM's definition is read when its write is taken, so it is the latest.
/// </summary>
public sealed class ConsoleRecorder(
    Emulator emulator, MigrationEngine engine, ConsoleStore store, Hubs.ConsoleEventForwarder hub, TimeProvider time, Domain.IncomingMigrations incoming,
    Microsoft.Extensions.Options.IOptions<Accounts.RateLimitOptions> limits) : IHostedService
{
    /// <summary>The audit log's name for a caller without a session.</summary>
    public const string Anonymous = "anonymous";

    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(500);
    private VmWatch? _watch;
    private ITimer? _unauthenticatedTick;

    /// <summary>The bound on what callers without a session add to the audit log.</summary>
    public UnauthenticatedAudit Unauthenticated { get; } = new(time, limits.Value.UnauthenticatedAuditRowsPerMinute);

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

        emulator.InventoryChanged += OnInventoryChanged;
        engine.Started += OnMigrationStarted;
        incoming.Started += OnIncomingStarted;

        _watch = new VmWatch(emulator, OnVmChanged);
        _unauthenticatedTick = time.CreateTimer(_ => WriteAll(Unauthenticated.Tick()), null, UnauthenticatedAudit.Window, UnauthenticatedAudit.Window);
        foreach (var vm in emulator.Vms)
        {
            SaveVm(vm);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        emulator.InventoryChanged -= OnInventoryChanged;
        engine.Started -= OnMigrationStarted;
        incoming.Started -= OnIncomingStarted;

        _watch?.Dispose();
        _unauthenticatedTick?.Dispose();
        WriteAll(Unauthenticated.Tick(force: true));
        return Task.CompletedTask;
    }

    /// <summary>A line was queued for the audit log (raised on the caller's thread).</summary>
    public event Action<Hubs.AuditEntryDto>? Appended;

    /// <summary>
    /// Records like <see cref="Audit"/>, and completes once the line is committed, and with it every write queued
    /// before it: the definitions, deletions and migration states the audited call changed (the emulator and the
    /// engine raise their events on the caller's thread, so those are queued before the line). A call is answered
    /// after this, so that what it acknowledges survives a crash. A caller without a session changed nothing and
    /// waits for nothing (its line may only be counted, see <see cref="Unauthenticated"/>).
    /// </summary>
    public Task AuditAsync(string user, string action, string target, string? vm, bool allowed, string? code = null, string? reason = null, string? address = null)
    {
        Audit(user, action, target, vm, allowed, code, reason, address);
        return user == Anonymous ? Task.CompletedTask : store.FlushAsync();
    }

    /// <summary>
    /// Records who did what to what, and whether it was allowed (queued: see <see cref="AuditAsync"/> to wait for
    /// the commit). A caller without a session (<paramref name="user"/> <see cref="Anonymous"/>) is recorded within
    /// <see cref="Unauthenticated"/>'s bound, by its client <paramref name="address"/>.
    /// </summary>
    public void Audit(string user, string action, string target, string? vm, bool allowed, string? code = null, string? reason = null, string? address = null)
    {
        var line = new AuditLine(time.GetUtcNow(), user, action, target, vm, allowed, code, reason);
        if (user == Anonymous)
        {
            WriteAll(Unauthenticated.Record(address ?? "unknown", line));
            return;
        }

        Write(line);
    }

    private void WriteAll(IReadOnlyList<AuditLine> lines)
    {
        foreach (var line in lines)
        {
            Write(line);
        }
    }

    private void Write(AuditLine line)
    {
        var record = new AuditRecord
        {
            At = line.At,
            User = Cut(line.User, 64),
            Action = Cut(line.Action, 200),
            Target = Cut(line.Target, 400),
            Vm = line.Vm is null ? null : Cut(line.Vm, 63),
            Allowed = line.Allowed,
            Code = line.Code is null ? null : Cut(line.Code, 64),
            Reason = line.Reason,
            Count = line.Count,
        };
        store.Enqueue(db =>
        {
            db.AuditLog.Add(record);
            return Task.CompletedTask;
        });
        var entry = new Hubs.AuditEntryDto(record.At, record.User, record.Action, record.Target, record.Vm, record.Allowed, record.Code, record.Reason, record.Count);
        hub.Audited(entry);
        Appended?.Invoke(entry);
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
    };

    private void OnInventoryChanged(InventoryChangeKind kind, string name)
    {
        switch (kind)
        {
            case InventoryChangeKind.VmRemoved:
                store.Enqueue(db => db.Vms.Where(v => v.Name == name).ExecuteDeleteAsync());
                break;
            case InventoryChangeKind.VmAdded or InventoryChangeKind.VmMoved when emulator.TryGetVm(name, out var vm):
                _watch?.Refresh();
                SaveVm(vm);
                break;
        }
    }

    private void OnVmChanged(Vm vm, VmChangeKind kind)
    {
        if (kind != VmChangeKind.Freeze && emulator.TryGetVm(vm.Name, out var current) && current == vm)
        {
            SaveVm(vm);
        }
    }

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

    private void OnMigrationStarted(PrecopyMigration migration)
    {
        var record = new MigrationRecord
        {
            Id = migration.Id,
            Vm = migration.VmName,
            SourceHost = migration.SourceHost,
            DestinationHost = migration.DestinationHost,
            Uri = migration.Uri,
            Status = migration.Status.ToQemuName(),
            ParametersJson = JsonSerializer.Serialize(migration.Parameters, JsonSerializerOptions.Web),
            CapabilitiesJson = JsonSerializer.Serialize(migration.Capabilities, JsonSerializerOptions.Web),
            StartedAt = migration.Events[0].At,
            Events = [.. migration.Events.Select(e => new MigrationEventRecord { MigrationId = migration.Id, Status = e.Status.ToQemuName(), At = e.At })],
        };
        store.Enqueue(db =>
        {
            db.Migrations.Add(record);
            return Task.CompletedTask;
        });

        var lastSample = 0L;
        migration.StatusChanged += (m, status) => SaveStatus(m, status);
        migration.Progress += m =>
        {
            var now = time.GetTimestamp();
            var previous = Interlocked.Read(ref lastSample);
            if (previous == 0 || time.GetElapsedTime(previous, now) >= SampleEvery || m.Status.IsFinal())
            {
                Interlocked.Exchange(ref lastSample, now);
                SaveSample(m);
            }
        };
    }

    /// <summary>A migration from QEMU is kept like the engine's: source "qemu", destination this console's host, QEMU's default parameters.</summary>
    private void OnIncomingStarted(Domain.IncomingMigration migration)
    {
        var record = new MigrationRecord
        {
            Id = migration.Id,
            Vm = migration.VmName,
            SourceHost = Api.ApiMapping.IncomingSource,
            DestinationHost = migration.Inner.Host,
            Uri = migration.Inner.Uri,
            Status = MigrationStatus.Setup.ToQemuName(),
            ParametersJson = JsonSerializer.Serialize(MigrationParameters.Default, JsonSerializerOptions.Web),
            CapabilitiesJson = JsonSerializer.Serialize(MigrationCapabilities.Default, JsonSerializerOptions.Web),
            StartedAt = migration.Events[0].At,
            Events = [new MigrationEventRecord { MigrationId = migration.Id, Status = MigrationStatus.Setup.ToQemuName(), At = migration.Events[0].At }],
        };
        store.Enqueue(db =>
        {
            db.Migrations.Add(record);
            return Task.CompletedTask;
        });
        migration.StatusChanged += (m, status) =>
            SaveStatus(m.Id, status, m.Events.LastOrDefault(e => e.Status == status).At, m.Inner.GetStats(), verified: null);
    }

    private void SaveStatus(PrecopyMigration migration, MigrationStatus status) =>
        SaveStatus(migration.Id, status, migration.Events.LastOrDefault(e => e.Status == status).At, migration.GetStats(), migration.Verified);

    private void SaveStatus(string id, MigrationStatus status, DateTimeOffset at, MigrationStats stats, bool? verified)
    {
        var statsJson = JsonSerializer.Serialize(stats, JsonSerializerOptions.Web);
        var ended = status.IsFinal() ? at : (DateTimeOffset?)null;
        store.Enqueue(async db =>
        {
            db.MigrationEvents.Add(new MigrationEventRecord { MigrationId = id, Status = status.ToQemuName(), At = at });
            await db.Migrations.Where(m => m.Id == id).ExecuteUpdateAsync(set => set
                .SetProperty(m => m.Status, status.ToQemuName())
                .SetProperty(m => m.StatsJson, statsJson)
                .SetProperty(m => m.ErrorDesc, stats.ErrorDesc)
                .SetProperty(m => m.Verified, verified)
                .SetProperty(m => m.EndedAt, ended)).ConfigureAwait(false);
        });
    }

    private void SaveSample(PrecopyMigration migration)
    {
        var s = migration.GetStats();
        var sample = new ProgressSampleRecord
        {
            MigrationId = migration.Id,
            At = time.GetUtcNow(),
            Transferred = s.Transferred,
            Remaining = s.Remaining,
            DirtyPagesRate = s.DirtyPagesRate,
            Mbps = s.Mbps,
            DirtySyncCount = s.DirtySyncCount,
            ExpectedDowntime = s.ExpectedDowntime,
            CpuThrottlePercentage = s.CpuThrottlePercentage,
        };
        var statsJson = JsonSerializer.Serialize(s, JsonSerializerOptions.Web);
        store.EnqueueSample(async db =>
        {
            db.ProgressSamples.Add(sample);
            await db.Migrations.Where(m => m.Id == migration.Id).ExecuteUpdateAsync(set => set.SetProperty(m => m.StatsJson, statsJson)).ConfigureAwait(false);
        });
    }

    private static string Cut(string text, int length) => text.Length <= length ? text : text[..length];
}
