using System.IO.Pipelines;
using System.Security.Cryptography;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>What an export wrote.</summary>
public sealed record QemuExportResult(string MachineType, IReadOnlyList<RamBlockHeader> Blocks, long BytesWritten, long NormalPages, long ZeroPages);

/// <summary>
/// Writes a VM's migratable memory as a stream QEMU 7.2 loads with <c>-incoming defer</c> and <c>migrate-incoming
/// exec:cat FILE</c>: the header, the configuration section (QEMU's versioned machine name), the RAM section (setup,
/// then one end section with every page, zero pages as one-byte records) and EOF; no device state and no description
/// (QEMU only warns). The VM's block list is frozen for the export, and a running guest is paused during it so
/// that the copy is one moment's.
/// </summary>
public static class QemuStreamExport
{
    /// <summary>Not 0: QEMU finds a part or end by the section id its start gave, and every section it never loaded has id 0 (the first is "timer").</summary>
    private const uint RamSectionId = 2;
    private const int FlushEvery = 1 << 20;

    /// <exception cref="Emulation.EmulationException">The VM is neither running nor paused, or a migration holds its block list.</exception>
    public static async Task<QemuExportResult> ExportAsync(Vm vm, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(output);
        if (vm.RunState is not (RunState.Running or RunState.Paused))
        {
            throw Emulation.EmulationException.Conflict("vm-not-running", $"VM '{vm.Name}' is {vm.RunState.ToQemuName()}; only a running or paused VM can be exported.");
        }

        using var holder = new ExportHolder();
        using var lease = vm.Freeze.Acquire(holder);
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
            writer.WriteEof();
            await writer.FlushAsync(holder.Token(cancellationToken)).ConfigureAwait(false);
            await pipe.CompleteAsync().ConfigureAwait(false);
            return new QemuExportResult(machineType, headers, writer.BytesWritten, normal, zero);
        }
        finally
        {
            if (pausedByUs)
            {
                vm.TryChangeRunState(RunState.Paused, RunState.Running);
            }
        }
    }

    /// <summary>The export's hold on the block list; a teardown of the VM asks it to stop.</summary>
    private sealed class ExportHolder : IMigrationLeaseHolder, IDisposable
    {
        private readonly CancellationTokenSource _cancel = new();
        private CancellationTokenSource? _linked;

        public string MigrationId { get; } = "export-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));

        public string Status => _cancel.IsCancellationRequested ? "cancelling" : "active";

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
