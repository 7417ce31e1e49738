using System.IO.Pipelines;
using System.Security.Cryptography;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Transports;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// A migration from a real QEMU into VmConsole: listens on <c>unix:PATH</c> or <c>tcp:127.0.0.1:PORT</c>, accepts
/// one QEMU <c>migrate</c>, and makes the VM from the live stream (the import's path, device state kept until the
/// description arrives). States as QEMU names them: <c>setup</c> while listening, <c>active</c> once QEMU has
/// connected, then <c>completed</c> (the VM is in the inventory and runs), <c>failed</c> with
/// <see cref="ErrorDesc"/>, or <c>cancelled</c>. No VM is left behind unless it completed.
/// </summary>
public sealed class QemuIncomingMigration : IAsyncDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeProvider _time;
    private readonly long _startedAt;

    // Written by the worker (status with Interlocked), read by anyone.
    private int _status = (int)MigrationStatus.Setup;
    private long _endedAt;
    private string? _errorDesc;
    private QemuImportSink? _sink;
    private MigrationStreamReader? _reader;
    private QemuImportResult? _result;

    private QemuIncomingMigration(string vmName, string host, MigrationUri uri, TimeProvider time)
    {
        Id = "mig-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
        VmName = vmName;
        Host = host;
        Uri = uri.ToString();
        _time = time;
        _startedAt = time.GetTimestamp();
    }

    /// <summary>A state change, raised on the thread that made it.</summary>
    public event Action<QemuIncomingMigration, MigrationStatus>? StatusChanged;

    public string Id { get; }

    /// <summary>The VM this migration creates.</summary>
    public string VmName { get; }

    public string Host { get; }

    public string Uri { get; }

    public MigrationStatus Status => (MigrationStatus)Volatile.Read(ref _status);

    public string? ErrorDesc => Volatile.Read(ref _errorDesc);

    /// <summary>What the stream carried, once completed.</summary>
    public QemuImportResult? Result => Volatile.Read(ref _result);

    /// <summary>Completes when the migration has completed, failed or been cancelled, and the listener is closed.</summary>
    public Task Finished => _finished.Task;

    /// <summary>
    /// Checks the name and host, binds the listener (before returning, so QEMU may <c>migrate</c> right away) and waits
    /// for QEMU in the background.
    /// </summary>
    /// <exception cref="EmulationException">Invalid or taken name, unknown host, or a URI that is not unix: or loopback tcp:.</exception>
    public static QemuIncomingMigration Listen(Emulator emulator, string name, string host, string uri, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(emulator);
        var parsed = MigrationUri.Parse(uri);
        if (parsed.Kind == TransportKind.File)
        {
            throw EmulationException.Invalid("invalid-uri", "An incoming migration listens on unix:PATH or tcp:HOST:PORT; import a file instead.");
        }

        var import = new QemuStreamImport(emulator, time);
        import.CheckTarget(name, host);
        var migration = new QemuIncomingMigration(name, host, parsed, time ?? TimeProvider.System);
        var (accepted, listener) = MigrationChannel.Listen(parsed, migration._cancel.Token);
        _ = Task.Run(() => migration.RunAsync(import, accepted, listener));
        return migration;
    }

    /// <summary>Stops listening or receiving; the half-received VM is discarded. Does nothing once finished.</summary>
    public void Cancel()
    {
        if (!Status.IsFinal())
        {
            _cancel.Cancel();
        }
    }

    /// <summary>The statistics console-to-console migrations report, as far as a receiver knows them.</summary>
    public MigrationStats GetStats()
    {
        var sink = Volatile.Read(ref _sink);
        var reader = Volatile.Read(ref _reader);
        var endedAt = Volatile.Read(ref _endedAt);
        var elapsed = endedAt != 0 ? _time.GetElapsedTime(_startedAt, endedAt) : _time.GetElapsedTime(_startedAt);
        var seconds = Math.Max(elapsed.TotalSeconds, 1e-6);
        var transferred = reader?.BytesRead ?? 0;
        var normal = sink?.NormalPages ?? 0;
        var zero = sink?.ZeroPages ?? 0;
        var total = sink?.Total ?? 0;
        return new MigrationStats
        {
            Status = Status,
            TotalTime = (long)elapsed.TotalMilliseconds,
            Transferred = transferred,
            Total = total,
            Remaining = Status == MigrationStatus.Completed ? 0 : Math.Max(0, total - ((normal + zero) * QemuFormat.TargetPageSize)),
            Duplicate = zero,
            Normal = normal,
            NormalBytes = normal * QemuFormat.TargetPageSize,
            Mbps = transferred * 8 / 1e6 / seconds,
            PagesPerSecond = (normal + zero) / seconds,
            ErrorDesc = ErrorDesc,
        };
    }

    public async ValueTask DisposeAsync()
    {
        Cancel();
        await Finished.WaitAsync(TimeSpan.FromSeconds(30), _time).ConfigureAwait(false);
        _cancel.Dispose();
    }

    private async Task RunAsync(QemuStreamImport import, Task<PipeReader> accepted, IAsyncDisposable listener)
    {
        try
        {
            var input = await accepted.ConfigureAwait(false);
            SetStatus(MigrationStatus.Setup, MigrationStatus.Active);
            var result = await import.ImportAsync(
                VmName,
                Host,
                input,
                description: null,
                (sink, reader) =>
                {
                    Volatile.Write(ref _sink, sink);
                    Volatile.Write(ref _reader, reader);
                },
                _cancel.Token).ConfigureAwait(false);
            Volatile.Write(ref _result, result);
            Finish(MigrationStatus.Completed, null);
        }
        catch (OperationCanceledException) when (_cancel.IsCancellationRequested)
        {
            Finish(MigrationStatus.Cancelled, null);
        }
        catch (Exception ex)
        {
            Finish(MigrationStatus.Failed, ex.Message);
        }
        finally
        {
            await listener.DisposeAsync().ConfigureAwait(false);
            _finished.TrySetResult();
        }
    }

    private void Finish(MigrationStatus status, string? error)
    {
        Volatile.Write(ref _errorDesc, error);
        Volatile.Write(ref _endedAt, _time.GetTimestamp());
        var from = Status;
        Interlocked.Exchange(ref _status, (int)status);
        if (from != status)
        {
            StatusChanged?.Invoke(this, status);
        }
    }

    private void SetStatus(MigrationStatus expected, MigrationStatus next)
    {
        if (Interlocked.CompareExchange(ref _status, (int)next, (int)expected) == (int)expected)
        {
            StatusChanged?.Invoke(this, next);
        }
    }
}
