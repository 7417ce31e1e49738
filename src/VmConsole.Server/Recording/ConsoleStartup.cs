using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Persistence;
using VmConsole.Persistence.Records;
using VmConsole.Server.Domain;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Server.Recording;

/// <summary>
/// Before the console takes requests: applies the database migrations, then seeds the demo inventory on
/// first start, or rebuilds the stored hosts and VMs (shut off, like real machines after a power cut) and
/// marks migrations that were running when the console stopped as failed.
/// </summary>
internal sealed class ConsoleStartup(
    IDbContextFactory<ConsoleDbContext> contexts,
    Emulator emulator,
    IOptions<EmulatorOptions> options,
    MigrationRegistry migrations,
    TimeProvider time,
    ILogger<ConsoleStartup> logger) : IHostedService
{
    public const string InterruptedError = "console restarted during migration";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await contexts.MigrateAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (await db.Hosts.AnyAsync(cancellationToken))
        {
            var vms = await RestoreAsync(db, cancellationToken);
            var interrupted = await FailInterruptedAsync(db, cancellationToken);
            StoreLog.Restored(logger, emulator.Hosts.Count, vms, interrupted);
        }
        else
        {
            Seed(options.Value.Seed);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Seed(SeedOptions seed)
    {
        if (!seed.Enabled)
        {
            return;
        }

        foreach (var host in seed.Hosts)
        {
            emulator.AddHost(host.Name, host.MemoryGiB * GiB);
        }

        foreach (var spec in seed.Vms)
        {
            var vm = emulator.CreateVm(new VmDefinition(spec.Name, spec.Host, spec.Machine, spec.MemoryMiB * MiB)
            {
                Slots = spec.Slots,
                MaxMemBytes = spec.MaxMemMiB * MiB,
            });
            foreach (var backend in spec.Backends)
            {
                vm.AddMemoryBackend(backend.Id, backend.SizeMiB * MiB);
                if (backend.Dimm is { } dimm)
                {
                    vm.PlugDimm(dimm, backend.Id);
                }
            }

            if (spec.Workload != WorkloadKind.Idle)
            {
                vm.SetWorkload(new WorkloadSpec(spec.Workload, spec.PagesPerSecond));
            }

            if (spec.Start)
            {
                vm.Start();
            }
        }

        ConsoleLog.Seeded(logger, seed.Hosts.Count, seed.Vms.Count);
    }

    private async Task<int> RestoreAsync(ConsoleDbContext db, CancellationToken cancellationToken)
    {
        foreach (var host in await db.Hosts.AsNoTracking().OrderBy(h => h.Name).ToListAsync(cancellationToken))
        {
            emulator.AddHost(host.Name, host.CapacityBytes);
        }

        var restored = 0;
        // Blocks, devices and device sections are owned collections: one query would return their product per VM (and EF
        // warns at every start); a query per collection returns each row once.
        foreach (var record in await db.Vms.AsNoTracking().AsSplitQuery().OrderBy(v => v.Name).ToListAsync(cancellationToken))
        {
            try
            {
                await RestoreVmAsync(record, cancellationToken);
                restored++;
            }
            catch (DomainException ex)
            {
                StoreLog.RestoreFailed(logger, record.Name, ex);
            }
        }

        return restored;
    }

    /// <summary>Builds the VM again from its definition and layout, and leaves it shut off.</summary>
    private async Task RestoreVmAsync(VmRecord record, CancellationToken cancellationToken)
    {
        var vm = emulator.CreateVm(new VmDefinition(record.Name, record.Host, record.Machine, record.MemoryBytes)
        {
            Id = record.Id,
            Slots = record.Slots,
            MaxMemBytes = record.Slots > 0 ? record.MaxMemBytes : 0,
            MainRamBackend = record.MainRamBackend,
            NumaNodes = [.. record.NumaNodes.OrderBy(n => n.Node).Select(n => new NumaNode(n.Memdev, n.SizeBytes))],
        });
        var blocks = record.Blocks.OrderBy(b => b.Position).ToList();
        // Backends get back the ids they had (rows from before ids were kept have 0: a new id, as then).
        foreach (var backend in blocks.Where(b => b.BackendId is not null))
        {
            vm.AddMemoryBackend(backend.BackendId!, backend.UsedLength, backend.BlockId > 0 ? backend.BlockId : null);
        }

        vm.ReserveBlockIdsThrough(record.LastBlockId);

        foreach (var device in record.Devices)
        {
            vm.PlugDimm(device.DeviceId, device.Memdev);
        }

        foreach (var stored in blocks)
        {
            var block = vm.RamBlocks.First(b => stored.BackendId is null ? b.BackendId is null && b.IdStr == stored.IdStr : b.BackendId == stored.BackendId);
            if (block.Migratable != stored.Migratable)
            {
                vm.SetMigratable(block.Id, stored.Migratable);
            }

            if (block.Resizeable && block.UsedLength != stored.UsedLength)
            {
                vm.Resize(block.Id, stored.UsedLength);
            }
        }

        if (record.DeviceStateFields is { } fields && record.DeviceSections.Count > 0)
        {
            // Kept verbatim, to go back to QEMU with the VM as it came.
            vm.SetDeviceState(new DeviceState(
                record.DeviceSections.OrderBy(s => s.Position).Select(s => new DeviceSection(s.IdStr, (uint)s.InstanceId, (uint)s.VersionId, s.State, s.Description)),
                fields));
        }

        if (Enum.TryParse<WorkloadKind>(record.WorkloadKind, out var kind) && kind != WorkloadKind.Idle)
        {
            vm.SetWorkload(new WorkloadSpec(kind, record.PagesPerSecond, record.WorkingSetBytes));
        }

        await vm.ShutdownAsync(cancellationToken);
    }

    private async Task<int> FailInterruptedAsync(ConsoleDbContext db, CancellationToken cancellationToken)
    {
        string[] final = [MigrationStatus.Completed.ToQemuName(), MigrationStatus.Cancelled.ToQemuName(), MigrationStatus.Failed.ToQemuName()];
        var stored = await db.Migrations.Where(m => !final.Contains(m.Status)).ToListAsync(cancellationToken);
        // A QEMU-to-QEMU migration ran on in its processes while the console was away: the QEMU driver follows it again
        // (registered before this runs), and its states reach the history as they come.
        var interrupted = stored.Where(m => migrations.Find(m.Id) is null).ToList();
        var now = time.GetUtcNow();
        foreach (var migration in interrupted)
        {
            migration.Status = MigrationStatus.Failed.ToQemuName();
            migration.ErrorDesc = InterruptedError;
            migration.EndedAt = now;
            db.MigrationEvents.Add(new MigrationEventRecord { MigrationId = migration.Id, Status = migration.Status, At = now });
        }

        await db.SaveChangesAsync(cancellationToken);
        return interrupted.Count;
    }
}
