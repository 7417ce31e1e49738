using System.Collections.Immutable;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Security.Cryptography;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Migration.Transports;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// A migration from a real QEMU into VmConsole: listens on <c>unix:PATH</c> or <c>tcp:127.0.0.1:PORT</c>, accepts
/// one QEMU <c>migrate</c>, and makes the VM from the live stream (the import's path, device state kept until the
/// description arrives). States as QEMU names them: <c>setup</c> while listening, <c>active</c> once QEMU has
/// connected, then <c>completed</c> (the VM is in the inventory and runs), <c>failed</c> with
/// <see cref="ErrorDesc"/>, or <c>cancelled</c>. From the moment it listens the VM is listed in <c>inmigrate</c>
/// (<see cref="Arriving"/>); no VM is left behind unless it completed, and the name is free again before the final
/// state is raised.
/// </summary>
public sealed class QemuIncomingMigration : IMigration, IAsyncDisposable
{
    private readonly CancellationTokenSource _cancel;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeProvider _time;
    private readonly long _startedAt;
    private readonly Emulator _emulator;

    /// <summary>How often <see cref="Progress"/> is raised while the stream comes in (when it moved).</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);

    // Written by the worker (status with Interlocked), read by anyone.
    private int _status = (int)MigrationStatus.Setup;
    private long _endedAt;
    private string? _errorDesc;
    private QemuImportSink? _sink;
    private MigrationStreamReader? _reader;
    private QemuImportResult? _result;

    // Written under _gate with the status it logs (copy on write), read without it.
    private readonly Lock _gate = new();
    private ImmutableList<MigrationEvent> _events;

    private readonly IncomingCapabilities _capabilities;

    /// <summary>With multifd: the channels beside the main connection.</summary>
    private readonly MultifdReceiver? _multifd;

    private QemuIncomingMigration(
        Emulator emulator,
        ArrivingVm arriving,
        MigrationUri uri,
        TimeProvider time,
        CancellationTokenSource cancel,
        string sourceHost,
        IncomingCapabilities capabilities,
        MultifdReceiver? multifd)
    {
        _capabilities = capabilities;
        _multifd = multifd;
        _cancel = cancel;
        SourceHost = sourceHost;
        Id = "mig-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
        _emulator = emulator;
        Arriving = arriving;
        VmName = arriving.Name;
        DestinationHost = arriving.Host.Name;
        Uri = uri.ToString();
        _time = time;
        _startedAt = time.GetTimestamp();
        _events = [new MigrationEvent(MigrationStatus.Setup, time.GetUtcNow())];
    }

    /// <summary>A state change, raised on the thread that made it.</summary>
    public event Action<IMigration, MigrationStatus>? StatusChanged;

    /// <summary>
    /// The numbers moved (<see cref="GetStats"/>): raised at most every <see cref="ProgressInterval"/> while <c>active</c>,
    /// on a timer thread, like the engine's coalesced progress.
    /// </summary>
    public event Action<IMigration>? Progress;

    /// <summary>The VM as the inventory lists it while it arrives (in <c>inmigrate</c>).</summary>
    public ArrivingVm Arriving { get; }

    public string Id { get; }

    /// <summary>The VM this migration creates.</summary>
    public string VmName { get; }

    public MigrationDirection Direction => MigrationDirection.Incoming;

    /// <summary>The QEMU host the VM comes from, when it is one of the console's; otherwise "qemu", a QEMU outside the console.</summary>
    public string SourceHost { get; }

    /// <summary>The host the VM arrives on.</summary>
    public string DestinationHost { get; }

    /// <summary>Where it listens.</summary>
    public string Uri { get; }

    /// <summary>
    /// QEMU's defaults but for multifd's channel count and compression, which the listener was told (they are not part
    /// of the stream, and both ends need the same).
    /// </summary>
    public MigrationParameters Parameters => _capabilities.Parameters;

    /// <summary>QEMU's defaults, with postcopy-ram and multifd when the listener was told of them: the sender's own capabilities are not part of the stream.</summary>
    public MigrationCapabilities Capabilities => MigrationCapabilities.Default with { PostcopyRam = _capabilities.PostcopyRam, Multifd = _capabilities.Multifd };

    /// <summary>What the listener was told of the source's capabilities (the stream reads differently with them).</summary>
    public IncomingCapabilities IncomingCapabilities => _capabilities;

    public MigrationStatus Status => (MigrationStatus)Volatile.Read(ref _status);

    public ImmutableList<MigrationEvent> Events => _events;

    /// <summary>A receiver does not throttle the sender's CPU.</summary>
    public ImmutableList<int> ThrottleSteps => [];

    /// <summary>Null: the sender's memory is not here to compare with.</summary>
    public bool? Verified => null;

    public string? ErrorDesc => Volatile.Read(ref _errorDesc);

    /// <summary>What the stream carried, once completed.</summary>
    public QemuImportResult? Result => Volatile.Read(ref _result);

    /// <summary>Completes when the migration has completed, failed or been cancelled, and the listener is closed.</summary>
    public Task Finished => _finished.Task;

    /// <summary>
    /// Checks the name and host, binds the listener (before returning, so QEMU may <c>migrate</c> right away) and waits
    /// for QEMU in the background.
    /// </summary>
    /// <exception cref="DomainException">
    /// Invalid or taken name, unknown host, a URI that is not unix: or loopback tcp: (400 <c>invalid-uri</c>), or an
    /// address that cannot be listened on, such as a port in use (409 <c>address-in-use</c>).
    /// </exception>
    /// <param name="sourceHost">The console's QEMU host the VM leaves, if it is one (null: a QEMU outside the console).</param>
    /// <param name="capabilities">The source's postcopy-ram and x-ignore-shared, set on a QEMU destination too; default none.</param>
    public static QemuIncomingMigration Listen(
        Emulator emulator,
        MigrationRegistry registry,
        string name,
        string host,
        string uri,
        TimeProvider? time = null,
        string? sourceHost = null,
        IncomingCapabilities? capabilities = null)
    {
        ArgumentNullException.ThrowIfNull(emulator);
        ArgumentNullException.ThrowIfNull(registry);
        var parsed = MigrationUri.Parse(uri);
        if (parsed.Kind == TransportKind.File)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidUri, "An incoming migration listens on unix:PATH or tcp:HOST:PORT; import a file instead.");
        }

        var told = capabilities ?? IncomingCapabilities.Default;
        // The same rules as the source's parameters (multifd-channels 1 to 255).
        told.Parameters.Validate();

        var import = new QemuStreamImport(emulator, time);
        import.CheckTarget(name, host);
        var cancel = new CancellationTokenSource();
        var multifd = told.Multifd ? new MultifdReceiver(told.MultifdChannels, told.MultifdCompression, time: time) : null;
        (Task<(PipeReader Input, Socket Socket)> Accepted, IAsyncDisposable Listener) channel;
        try
        {
            if (multifd is null)
            {
                channel = MigrationChannel.ListenForPeer(parsed, cancel.Token);
            }
            else
            {
                // The main connection and the channels, told apart by their first bytes in whatever order QEMU connects them.
                var listener = MigrationChannel.ListenMany(parsed);
                channel = (MultifdConnections.AcceptAsync(listener, multifd, told.MultifdChannels, cancel.Token), listener);
            }
        }
        catch (SocketException ex)
        {
            cancel.Dispose();
            throw DomainException.Conflict(ErrorCodes.AddressInUse, $"Cannot listen on {parsed}: {ex.Message}.");
        }

        // Reserved only once bound, so that a refused address leaves no trace in the inventory; taking the name is
        // atomic, so a name taken since the check above is refused here.
        ArrivingVm arriving;
        try
        {
            arriving = emulator.ReserveArriving(name, host);
        }
        catch
        {
            cancel.Cancel();
            channel.Listener.DisposeAsync().AsTask().GetAwaiter().GetResult();
            cancel.Dispose();
            throw;
        }

        var migration = new QemuIncomingMigration(
            emulator, arriving, parsed, time ?? TimeProvider.System, cancel, sourceHost ?? MigrationPeers.Qemu, told, multifd);
        registry.Add(migration);
        _ = Task.Run(() => migration.RunAsync(import, channel.Accepted, channel.Listener));
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

    /// <summary>Postcopy is the source's to start, and the console's listener takes precopy only (postcopy-ram set or not): always refused.</summary>
    /// <exception cref="DomainException">Always 409 <c>postcopy-not-enabled</c>.</exception>
    public Task StartPostcopyAsync(CancellationToken cancellationToken = default) => throw (_capabilities.PostcopyRam
        ? DomainException.Conflict(
            ErrorCodes.PostcopyNotEnabled,
            $"Migration {Names.Shorten(Id)} of VM '{VmName}' is received from QEMU in precopy: the source has postcopy-ram, but the console does not take postcopy (a switch fails the migration).")
        : MigrationRefusals.PostcopyNotEnabled(Id, VmName));

    /// <summary>A receiver never waits in pre-switchover: the sender decides when to switch over.</summary>
    /// <exception cref="DomainException">Always 409 <c>not-pre-switchover</c>.</exception>

    public Task ContinueAsync(CancellationToken cancellationToken = default) =>
        throw MigrationRefusals.NotPreSwitchover(Id, Status.ToQemuName());

    /// <summary>Not known to a receiver: the stream announces blocks, not what the sender still has to send.</summary>
    public IReadOnlyList<BlockProgress> GetBlockProgress() => [];

    /// <summary>The statistics console-to-console migrations report, as far as a receiver knows them.</summary>
    public MigrationStats GetStats()
    {
        var sink = Volatile.Read(ref _sink);
        var reader = Volatile.Read(ref _reader);
        var endedAt = Volatile.Read(ref _endedAt);
        var elapsed = endedAt != 0 ? _time.GetElapsedTime(_startedAt, endedAt) : _time.GetElapsedTime(_startedAt);
        var seconds = Math.Max(elapsed.TotalSeconds, 1e-6);
        var transferred = (reader?.BytesRead ?? 0) + (_multifd?.BytesRead ?? 0);
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

    private async Task RunAsync(QemuStreamImport import, Task<(PipeReader Input, Socket Socket)> accepted, IAsyncDisposable listener)
    {
        ReturnPathWriter? returnPath = null;
        try
        {
            var (input, socket) = await accepted.ConfigureAwait(false);
            returnPath = new ReturnPathWriter(socket);
            SetStatus(MigrationStatus.Setup, MigrationStatus.Active);
            _ = ReportProgressAsync();
            var result = await import.ImportAsync(
                VmName,
                DestinationHost,
                input,
                description: null,
                Arriving,
                (sink, reader) =>
                {
                    Volatile.Write(ref _sink, sink);
                    Volatile.Write(ref _reader, reader);
                },
                _cancel.Token,
                returnPath,
                _capabilities,
                _multifd).ConfigureAwait(false);

            // A source that opened the return path completes only on this answer.
            returnPath.SendShut(failed: false);
            Volatile.Write(ref _result, result);
            Finish(MigrationStatus.Completed, null);
        }
        catch (OperationCanceledException) when (_cancel.IsCancellationRequested)
        {
            returnPath?.SendShut(failed: true);
            _emulator.ReleaseArriving(Arriving);
            Finish(MigrationStatus.Cancelled, null);
        }
        catch (Exception ex)
        {
            returnPath?.SendShut(failed: true);
            _emulator.ReleaseArriving(Arriving);
            Finish(MigrationStatus.Failed, ex.Message);
        }
        finally
        {
            if (_multifd is not null)
            {
                await _multifd.DisposeAsync().ConfigureAwait(false);
            }

            await listener.DisposeAsync().ConfigureAwait(false);
            _finished.TrySetResult();
        }
    }

    /// <summary>Raises <see cref="Progress"/> every <see cref="ProgressInterval"/> while the stream comes in, when the bytes read moved.</summary>
    private async Task ReportProgressAsync()
    {
        using var timer = new PeriodicTimer(ProgressInterval, _time);
        var reported = -1L;
        while (await timer.WaitForNextTickAsync().ConfigureAwait(false) && Status == MigrationStatus.Active)
        {
            var read = Volatile.Read(ref _reader)?.BytesRead ?? 0;
            if (read != reported)
            {
                reported = read;
                Progress?.Invoke(this);
            }
        }
    }

    private void Finish(MigrationStatus status, string? error)
    {
        Volatile.Write(ref _errorDesc, error);
        Volatile.Write(ref _endedAt, _time.GetTimestamp());
        bool changed;
        lock (_gate)
        {
            changed = Interlocked.Exchange(ref _status, (int)status) != (int)status;
            if (changed)
            {
                _events = _events.Add(new MigrationEvent(status, _time.GetUtcNow()));
            }
        }

        if (changed)
        {
            StatusChanged?.Invoke(this, status);
        }
    }

    private void SetStatus(MigrationStatus expected, MigrationStatus next)
    {
        lock (_gate)
        {
            if (Interlocked.CompareExchange(ref _status, (int)next, (int)expected) != (int)expected)
            {
                return;
            }

            _events = _events.Add(new MigrationEvent(next, _time.GetUtcNow()));
        }

        StatusChanged?.Invoke(this, next);
    }
}
