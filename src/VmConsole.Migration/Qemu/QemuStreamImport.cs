using System.IO.Pipelines;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// Makes a VM from a QEMU 7.2 migration stream (a file written by <c>migrate exec:cat &gt; FILE</c>, or a live
/// <c>migrate</c>): machine from the configuration section, blocks and pages from the RAM section, and the device
/// sections VmConsole does not model kept verbatim with their part of the description QEMU writes after EOF (the VM's
/// <see cref="Vm.DeviceState"/>, sent back when it goes to QEMU). A stream that does
/// not fit fails with QEMU's words (<see cref="MigrationStreamException"/>) and leaves no VM behind.
/// </summary>
public sealed class QemuStreamImport(Emulator emulator, TimeProvider? time = null)
{
    private const long ProgressEvery = 1 << 20;

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public MigrationStreamLimits Limits { get; init; } = MigrationStreamLimits.Default;

    /// <summary>
    /// Imports the stream read from <paramref name="input"/> (left open) into a new VM <paramref name="name"/> on
    /// <paramref name="host"/>. A seekable input has its description read from its end first, so that device sections
    /// are cut out as they come; otherwise the bytes from the first one on are kept until the description arrives.
    /// </summary>
    /// <exception cref="MigrationStreamException">The stream is malformed, truncated, or does not fit a VmConsole machine.</exception>
    /// <exception cref="DomainException">The name is taken or invalid, the host is unknown or lacks the memory.</exception>
    public async Task<QemuImportResult> ImportAsync(string name, string host, Stream input, IProgress<QemuImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckTarget(name, host);
        QemuVmDescription? description = null;
        long? total = null;
        if (input.CanSeek)
        {
            total = input.Length - input.Position;
            description = await QemuVmDescription.ReadFromEndAsync(input, Limits, cancellationToken).ConfigureAwait(false);
        }

        var counting = new ProgressStream(input, total, progress, ProgressEvery);
        var pipe = PipeReader.Create(counting, new StreamPipeReaderOptions(pool: Transports.PipeBufferPool.Large, bufferSize: 1 << 20, leaveOpen: true));
        var result = await ImportAsync(name, host, pipe, description, arriving: null, started: null, cancellationToken).ConfigureAwait(false);
        progress?.Report(new QemuImportProgress(result.BytesRead, total));
        return result;
    }

    /// <summary>Refuses up front what would fail only after the stream was read.</summary>
    internal void CheckTarget(string name, string host)
    {
        Names.ValidateName(name, "VM");
        emulator.GetHost(host);
        if (emulator.IsNameTaken(name))
        {
            throw DomainException.Conflict(ErrorCodes.VmExists, $"A VM named '{name}' already exists.");
        }
    }

    /// <summary>
    /// The import itself, from any byte source; <paramref name="started"/> sees the sink and reader before reading begins
    /// (for live statistics). With <paramref name="arriving"/> (a live migration), the VM is shown as that arriving VM from
    /// the RAM setup on and takes over its name at the end; on failure the name is released.
    /// </summary>
    internal async Task<QemuImportResult> ImportAsync(
        string name,
        string host,
        PipeReader input,
        QemuVmDescription? description,
        ArrivingVm? arriving,
        Action<QemuImportSink, MigrationStreamReader>? started,
        CancellationToken cancellationToken,
        IMigrationReturnPath? returnPath = null,
        IncomingCapabilities? capabilities = null,
        MultifdReceiver? multifd = null)
    {
        var startedAt = _time.GetTimestamp();
        var sink = new QemuImportSink(emulator, name, host, arriving);
        var deviceSections = new QemuDeviceSections(new DeviceStateSkipping { Description = description });
        var reader = new MigrationStreamReader(input, sink, Limits, deviceSections, returnPath, capabilities, multifd);
        started?.Invoke(sink, reader);
        try
        {
            await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            await StopChannelsAsync(multifd).ConfigureAwait(false);
            sink.Dispose();
            var vm = sink.Vm ?? throw new MigrationStreamException("The stream reached EOF without a RAM section: it carries no memory to import");
            vm.SetDeviceState(deviceSections.Kept);
            vm.TryChangeRunState(RunState.InMigrate, QemuGlobalState.ArrivesRunning(vm.DeviceState) ? RunState.Running : RunState.Paused);
            emulator.CommitIncoming(vm, arriving);
            return new QemuImportResult(
                vm,
                sink.MachineType!,
                sink.Blocks,
                vm.DeviceState,
                reader.BytesRead,
                sink.NormalPages,
                sink.ZeroPages,
                _time.GetElapsedTime(startedAt));
        }
        catch
        {
            await StopChannelsAsync(multifd).ConfigureAwait(false);
            sink.Dispose();
            if (arriving is not null)
            {
                // Before the VM is discarded: nobody may find a freed VM as what is arriving.
                emulator.ReleaseArriving(arriving);
            }

            if (sink.Vm is { } vm)
            {
                emulator.DiscardIncoming(vm);
            }

            throw;
        }
    }

    /// <summary>The multifd channels write into the sink's memory: they stop before it is let go.</summary>
    private static async Task StopChannelsAsync(MultifdReceiver? multifd)
    {
        if (multifd is not null)
        {
            await multifd.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Counts what is read and reports it every <paramref name="every"/> bytes (the import reports the end).</summary>
    private sealed class ProgressStream(Stream inner, long? total, IProgress<QemuImportProgress>? progress, long every) : Stream
    {
        private long _read;
        private long _reported;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            _read += read;
            if (progress is not null && _read - _reported >= every)
            {
                _reported = _read;
                progress.Report(new QemuImportProgress(_read, total));
            }

            return read;
        }
    }
}
