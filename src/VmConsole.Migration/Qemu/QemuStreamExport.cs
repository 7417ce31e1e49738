using System.IO.Pipelines;
using System.Security.Cryptography;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// Writes a VM's migratable memory as a stream QEMU 7.2 loads with <c>-incoming defer</c> and <c>migrate-incoming
/// exec:cat FILE</c>: the header, the configuration section (QEMU's versioned machine name), the RAM section (setup,
/// then one end section with every page, zero pages as one-byte records), then the device state QEMU sent with the VM
/// (<see cref="DeviceStateWriter"/>: its sections unchanged, EOF, the description), so that QEMU goes on where the
/// guest stopped. A VM made here has none: the stream ends with EOF and QEMU boots it from reset (it only warns about
/// the missing description). The VM's block list is frozen for the export, and a running guest is paused during it so
/// that the copy is one moment's.
/// </summary>
public static class QemuStreamExport
{
    /// <summary>Not 0: QEMU finds a part or end by the section id its start gave, and every section it never loaded has id 0 (the first is "timer").</summary>
    private const uint RamSectionId = 2;
    private const int FlushEvery = 1 << 20;

    /// <summary>The refusal code of an export asked for while a migration (or another export) holds the VM's block list.</summary>
    public const string MigratingCode = ErrorCodes.VmMigrating;

    /// <summary>
    /// Refuses up front what <see cref="ExportAsync"/> would refuse, so that a caller can check before it opens a file
    /// or starts a download: a VM neither running nor paused, and one a migration holds.
    /// </summary>
    /// <exception cref="Emulation.DomainException"><c>vm-not-running</c> or <c>vm-migrating</c> (409).</exception>
    public static void CheckExportable(Vm vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        // finish-migrate passes: the migration that stopped the guest holds it, and its refusal says what to do.
        if (vm.RunState is not (RunState.Running or RunState.Paused or RunState.FinishMigrate))
        {
            throw Emulation.DomainException.Conflict(ErrorCodes.VmNotRunning, $"VM '{vm.Name}' is {vm.RunState.ToQemuName()}; only a running or paused VM can be exported.");
        }

        if (vm.Freeze.Lease?.Holder is { } holder)
        {
            throw Migrating(vm, holder.MigrationId, holder.Status.ToQemuName());
        }
    }

    /// <exception cref="Emulation.DomainException">The VM is neither running nor paused (<c>vm-not-running</c>), or a
    /// migration holds its block list (<c>vm-migrating</c>).</exception>
    public static async Task<QemuExportResult> ExportAsync(Vm vm, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(output);
        CheckExportable(vm);
        using var holder = new ExportHolder();
        MigrationLease lease;
        try
        {
            lease = vm.Freeze.Acquire(holder);
        }
        catch (MigratableSetFrozenException frozen)
        {
            // A migration accepted since the check above.
            throw Migrating(vm, frozen.MigrationId, frozen.MigrationStatus);
        }

        using var leaseInForce = lease;
        var pausedByUs = vm.TryChangeRunState(RunState.Running, RunState.Paused);
        try
        {
            var pipe = PipeWriter.Create(output, new StreamPipeWriterOptions(pool: Transports.PipeBufferPool.Large, minimumBufferSize: 1 << 20, leaveOpen: true));
            var writer = new MigrationStreamWriter(pipe);
            var set = lease.MigratableSet;
            RamBlockHeader[] headers = [.. set.Select(identity => new RamBlockHeader(identity.IdStr, identity.UsedLength))];
            var machineType = QemuMachineTypes.ToQemuName(vm.Machine);
            writer.WriteHeader();
            writer.WriteConfiguration(machineType);
            writer.WriteRamSetup(RamSectionId, headers);
            writer.BeginRamSection(RamSectionId, end: true);
            long normal = 0, zero = 0, flushedAt = 0;
            for (var i = 0; i < headers.Length; i++)
            {
                var block = vm.FindMigratable(headers[i].IdStr)!;
                using var memory = block.AcquireMemory();
                for (long offset = 0; offset < headers[i].UsedLength; offset += QemuFormat.TargetPageSize)
                {
                    var page = memory.Span(offset, QemuFormat.TargetPageSize);
                    if (page.ContainsAnyExcept((byte)0))
                    {
                        writer.WritePage(i, offset, page);
                        normal++;
                    }
                    else
                    {
                        writer.WriteZeroPage(i, offset, 0);
                        zero++;
                    }

                    if (writer.BytesWritten - flushedAt >= FlushEvery)
                    {
                        flushedAt = writer.BytesWritten;
                        await writer.FlushAsync(holder.Token(cancellationToken)).ConfigureAwait(false);
                    }
                }
            }

            writer.EndRamSection(RamSectionId);
            var deviceState = vm.DeviceState;
            DeviceStateWriter.WriteEnd(writer, deviceState, RamSectionId + 1, running: pausedByUs);
            await writer.FlushAsync(holder.Token(cancellationToken)).ConfigureAwait(false);
            await pipe.CompleteAsync().ConfigureAwait(false);
            return new QemuExportResult(machineType, headers, writer.BytesWritten, normal, zero, deviceState);
        }
        finally
        {
            if (pausedByUs)
            {
                vm.TryChangeRunState(RunState.Paused, RunState.Running);
            }
        }
    }

    /// <summary>
    /// Why an export cannot be taken while a migration runs, and what to do. An export is one moment's copy: it holds a
    /// running guest paused while it writes. Pausing the source of a migration would change that migration (at
    /// switchover the destination starts paused if the source was, and a cancel leaves the source as the migration found
    /// it), and at switchover the source's memory is handed to the destination and freed. Reading pages while the
    /// guest runs would not be a consistent copy. So the console refuses rather than write a stream that is not one moment.
    /// </summary>
    private static Emulation.DomainException Migrating(Vm vm, string holderId, string holderStatus) =>
        Emulation.DomainException.Conflict(
            MigratingCode,
            holderId.StartsWith(ExportHolder.IdPrefix, StringComparison.Ordinal)
                ? $"VM '{vm.Name}' is being exported already ({holderId}); export it again once that export has been written."
                : $"VM '{vm.Name}' cannot be exported while migration {holderId} is {holderStatus}: an export is one moment's copy, so it keeps "
                  + "a running guest paused while it writes, and pausing the source of a migration would change the migration (the "
                  + "destination would start paused) while its switchover frees the memory being written. Export it once the migration "
                  + "has ended: after completed from its new host (same VM name), after cancelled or failed from this one.");

    /// <summary>The export's hold on the block list; a teardown of the VM asks it to stop.</summary>
    private sealed class ExportHolder : IMigrationLeaseHolder, IDisposable
    {
        private readonly CancellationTokenSource _cancel = new();
        private CancellationTokenSource? _linked;

        public const string IdPrefix = "export-";

        public string MigrationId { get; } = IdPrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));

        public MigrationStatus Status => _cancel.IsCancellationRequested ? MigrationStatus.Cancelling : MigrationStatus.Active;

        public void RequestCancel(string? error) => _cancel.Cancel();

        public CancellationToken Token(CancellationToken other)
        {
            _linked ??= CancellationTokenSource.CreateLinkedTokenSource(_cancel.Token, other);
            return _linked.Token;
        }

        public void Dispose()
        {
            _linked?.Dispose();
            _cancel.Dispose();
        }
    }
}
