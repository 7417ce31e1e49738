using System.Collections.Immutable;
using System.Security.Cryptography;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Memory;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Qmp;
using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Migrations;

/// <summary>
/// A live migration between two QEMU processes, driven over QMP as Proxmox and libvirt do (DESIGN.md section 10):
/// the destination is started with the source's machine, memory, backends and devices and <c>-incoming defer</c>, the
/// capabilities (with <c>events</c>) go to both ends and the parameters to the source, <c>migrate-incoming</c> on a
/// unix socket in the destination's runtime directory, then <c>migrate</c> on the source. Its state and numbers are the
/// source's <c>query-migrate</c>, polled about once a second (ten times a second from <c>device</c> or when little is
/// left) and on every MIGRATION event. On <c>completed</c> the destination runs and the source, in postmigrate, is
/// quit; on <c>failed</c> or <c>cancelled</c> the destination (which QEMU ends) is cleaned up and the source runs on.
/// With <c>postcopy-ram</c> it starts as precopy and <see cref="StartPostcopyAsync"/> moves it to
/// <c>postcopy-active</c>: the destination runs the guest and fetches the pages it still lacks from the source. From
/// then on it cannot be cancelled, only completed (or lost with either end). After completion the destination's
/// migratable set is compared with the source's as it was when the freeze was taken
/// (<see cref="MigratableSetDifference"/>).
/// </summary>
public sealed partial class QemuMigration : IMigration
{
    private readonly QemuVm _source;
    private readonly QemuLauncher _launcher;
    private readonly string _destinationDirectory;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Set when a final state is recorded (by a poll or an event's poll), so that the follower stops waiting at once.
    private readonly TaskCompletionSource _final = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly SemaphoreSlim _pollGate = new(1, 1);

    // Cancelled when the console lets go (it stops): the follower ends without touching either QEMU.
    private readonly CancellationTokenSource _lettingGo = new();

    // Written under _gate (copy on write), read without it.
    private ImmutableList<MigrationEvent> _events;
    private ImmutableList<int> _throttleSteps = [];
    private MigrationStats _stats;
    private QemuVm? _destination;

    // Written once by the setup, before migrate is sent; read by the follower after completion.
    private IReadOnlyList<QemuRamBlock> _sourceSet = [];

    // Written by the follower's end before the final state is raised; read by anyone.
    private volatile string? _migratableSetDifference;

    // Set once by StartAsync/RecoverAsync before following starts; called by the follower's end.
    private Func<QemuVm, Task>? _completing;

    // Set by StartPostcopyAsync before migrate-start-postcopy is sent (cleared only when QEMU refused it and is not in postcopy); read by Cancel and the end.
    private volatile bool _postcopyRequested;

    private QemuMigration(
        QemuVm source, string sourceHost, string destinationHost, QemuLauncher launcher, string destinationDirectory, MigrationParameters parameters, MigrationCapabilities capabilities,
        TimeProvider time, string? id = null)
    {
        Id = id ?? "mig-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
        _source = source;
        _launcher = launcher;
        _destinationDirectory = destinationDirectory;
        _time = time;
        VmName = source.Name;
        SourceHost = sourceHost;
        DestinationHost = destinationHost;
        Uri = $"unix:{Path.Combine(destinationDirectory, "migrate.sock")}";
        Parameters = parameters;
        Capabilities = capabilities;
        _events = [new MigrationEvent(MigrationStatus.Setup, time.GetUtcNow())];
        _stats = new MigrationStats { Status = MigrationStatus.Setup };
    }

    public event Action<IMigration, MigrationStatus>? StatusChanged;

    public event Action<IMigration>? Progress;

    public string Id { get; }

    public string VmName { get; }

    public MigrationDirection Direction => MigrationDirection.Outgoing;

    public string SourceHost { get; }

    public string? DestinationHost { get; }

    public string? Uri { get; }

    public MigrationParameters Parameters { get; }

    public MigrationCapabilities Capabilities { get; }

    public MigrationStatus Status => Volatile.Read(ref _stats).Status;

    public ImmutableList<MigrationEvent> Events => _events;

    public ImmutableList<int> ThrottleSteps => _throttleSteps;

    /// <summary>Null: the console does not hold either QEMU's memory to compare them.</summary>
    public bool? Verified => null;

    public Task Finished => _finished.Task;

    /// <summary>The destination VM, once its QEMU runs (after completion it is the VM).</summary>
    public QemuVm? Destination => Volatile.Read(ref _destination);

    /// <summary>
    /// After completion: how the destination's migratable set (idstr, page size and used length of each migratable
    /// block) differs from the source's when the freeze was taken, or why it could not be read; null while the migration
    /// runs, when it did not complete, and when both are the same. Set before the final state is raised.
    /// </summary>
    public string? MigratableSetDifference => _migratableSetDifference;

    /// <summary>Null when this machine's QEMU can migrate with postcopy-ram; otherwise why not (for a check before the start).</summary>
    public static string? CheckPostcopySupport() => QemuPostcopySupport.Check();

    /// <summary>
    /// Starts the destination and the migration; returns once QEMU has accepted <c>migrate</c> (the migration is then
    /// registered and followed in the background).
    /// </summary>
    /// <exception cref="DomainException">
    /// The source is not running or paused, a capability is not one QEMU offers here (postcopy-ram without userfaultfd:
    /// <see cref="CheckPostcopySupport"/>), or QEMU refused a step.
    /// </exception>
    public static async Task<QemuMigration> StartAsync(
        QemuVm source, string sourceHost, string destinationHost, QemuLauncher launcher, string destinationDirectory, MigrationParameters parameters, MigrationCapabilities capabilities,
        MigrationRegistry registry, TimeProvider? time = null, CancellationToken cancellationToken = default, Func<QemuVm, Task>? completing = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(registry);
        parameters.Validate();
        // finish-migrate passes: the migration that stopped the guest holds it, and its refusal names that migration.
        if (source.RunState is not (Emulation.Vms.RunState.Running or Emulation.Vms.RunState.Paused or Emulation.Vms.RunState.FinishMigrate))
        {
            throw DomainException.Conflict(ErrorCodes.VmNotRunning, $"VM '{source.Name}' is {source.QemuStatus}; only a running or paused VM can migrate.");
        }

        if (capabilities.PostcopyRam && CheckPostcopySupport() is { } reason)
        {
            throw DomainException.Invalid(ErrorCodes.UnsupportedCapability, $"Capability 'postcopyRam' is not available here: {reason}", "postcopyRam");
        }

        var migration = new QemuMigration(source, sourceHost, destinationHost, launcher, destinationDirectory, parameters, capabilities with { Events = true }, time ?? TimeProvider.System)
        {
            _completing = completing,
        };
        // The migratable set is held before the first command goes to either QEMU, until the end is cleaned up.
        source.Memory.Hold(migration);
        try
        {
            await migration.SetUpAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await migration.DiscardDestinationAsync().ConfigureAwait(false);
            source.Memory.Release(migration);
            throw;
        }

        registry.Add(migration);
        _ = Task.Run(migration.FollowAsync);
        return migration;
    }

    /// <summary>
    /// Follows again a migration this console started before it restarted (killed, even): both QEMUs ran on without it.
    /// The source and the destination are the processes found alive; the migration keeps its id, so its history goes on.
    /// Whatever QEMU says now (still running, or completed, failed, cancelled meanwhile) is taken from there and ended as
    /// <see cref="StartAsync"/>'s migrations end: the source quits after a completion, the destination goes otherwise.
    /// </summary>
    public static async Task<QemuMigration> RecoverAsync(
        string id, QemuVm source, QemuVm destination, string sourceHost, string destinationHost, QemuLauncher launcher, string destinationDirectory,
        MigrationParameters parameters, MigrationCapabilities capabilities, MigrationRegistry registry, TimeProvider? time = null, Func<QemuVm, Task>? completing = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(registry);
        var migration = new QemuMigration(source, sourceHost, destinationHost, launcher, destinationDirectory, parameters, capabilities, time ?? TimeProvider.System, id)
        {
            _completing = completing,
        };
        Volatile.Write(ref migration._destination, destination);
        source.Memory.Hold(migration);
        try
        {
            // The set the freeze holds (the source's, unchanged since the migration began: the freeze held it then too).
            migration._sourceSet = await source.RamBlocksAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DomainException or FormatException)
        {
            // The first poll finds out what became of the source.
        }

        source.Instance.Qmp.EventReceived += migration.OnSourceEvent;
        registry.Add(migration);
        _ = Task.Run(migration.FollowAsync);
        return migration;
    }

    /// <summary>migrate_cancel, as <see cref="IMigration.Cancel"/> says; refused once postcopy has started.</summary>
    /// <exception cref="DomainException">
    /// 409 <c>postcopy-not-cancellable</c>: postcopy was started (the destination runs the guest with part of its memory,
    /// so neither end can take it back; QEMU 7.2 would cancel and lose the guest).
    /// </exception>
    public void Cancel()
    {
        var status = Status;
        if ((_postcopyRequested && !status.IsFinal()) || IsPostcopy(status))
        {
            throw DomainException.Conflict(
                ErrorCodes.PostcopyNotCancellable,
                $"Migration {Names.Shorten(Id)} of VM '{VmName}' is {status.ToQemuName()} after postcopy was started: the destination already runs the guest "
                + "with part of its memory, so the migration cannot be cancelled; it ends when the remaining pages have moved.");
        }

        if (status.IsCancellable())
        {
            // Said at once, as QEMU's own state (cancelling until QEMU answers cancelled): a poll may not catch QEMU's
            // short-lived cancelling, and the page must not look as if the click did nothing.
            Record(GetStats() with { Status = MigrationStatus.Cancelling });
            _ = _source.Instance.Qmp.ExecuteAsync("migrate_cancel").ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        }
    }

    public async Task ContinueAsync(CancellationToken cancellationToken = default)
    {
        if (Status != MigrationStatus.PreSwitchover)
        {
            throw MigrationRefusals.NotPreSwitchover(Id, Status.ToQemuName());
        }

        await _source.RunAsync("migrate-continue", new Dictionary<string, object> { ["state"] = "pre-switchover" }, cancellationToken).ConfigureAwait(false);
        await PollAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// migrate-start-postcopy: the source stops the guest, sends its device state, and the destination runs it and asks
    /// for the pages it still lacks. Completes once QEMU has accepted the command (the switch follows at the end of the
    /// current pass: <c>postcopy-active</c>).
    /// </summary>
    /// <exception cref="DomainException">
    /// 409 <c>postcopy-not-enabled</c> when the migration was started without postcopy-ram, 409
    /// <c>migration-not-active</c> when it is not <c>active</c>, or QEMU's refusal.
    /// </exception>
    public async Task StartPostcopyAsync(CancellationToken cancellationToken = default)
    {
        if (!Capabilities.PostcopyRam)
        {
            throw MigrationRefusals.PostcopyNotEnabled(Id, VmName);
        }

        var status = Status;
        if (status != MigrationStatus.Active)
        {
            throw DomainException.Conflict(
                ErrorCodes.MigrationNotActive,
                $"Migration {Names.Shorten(Id)} of VM '{VmName}' is {status.ToQemuName()}; postcopy can only start from active.");
        }

        // Before the command: from here on a cancel would lose the guest, so Cancel refuses.
        _postcopyRequested = true;
        try
        {
            await _source.RunAsync("migrate-start-postcopy", null, cancellationToken).ConfigureAwait(false);
        }
        catch (DomainException)
        {
            // Refused (the migration ended meanwhile, say): postcopy started only if QEMU says so.
            await PollQuietlyAsync().ConfigureAwait(false);
            _postcopyRequested = IsPostcopy(Status);
            throw;
        }

        await PollAsync(cancellationToken).ConfigureAwait(false);
    }

    public MigrationStats GetStats() => Volatile.Read(ref _stats);

    public IReadOnlyList<BlockProgress> GetBlockProgress() => [];

    private async Task SetUpAsync(CancellationToken cancellationToken)
    {
        // The destination process takes most of the setup's time to start; what the source needs is done meanwhile:
        // the set as the freeze holds it (to compare the destination's with once the migration has completed), and
        // the source's capabilities and parameters.
        var capabilities = QemuMigrationParameters.Capabilities(Capabilities);
        var spec = _source.Spec with { Incoming = true, Paused = false };
        var starting = QemuVm.StartAsync(_launcher, spec, _destinationDirectory, _time, cancellationToken);
        try
        {
            await Task.WhenAll(SetUpSourceAsync(capabilities, cancellationToken), starting).ConfigureAwait(false);
        }
        finally
        {
            // Kept whatever became of the source's part, so that a failed setup discards it.
            if (starting.IsCompletedSuccessfully)
            {
                Volatile.Write(ref _destination, starting.Result);
            }
        }

        var destination = starting.Result;
        await destination.RunAsync("migrate-set-capabilities", capabilities, cancellationToken).ConfigureAwait(false);
        if (Capabilities.Multifd)
        {
            await destination.RunAsync("migrate-set-parameters", QemuMigrationParameters.Destination(Parameters), cancellationToken).ConfigureAwait(false);
        }

        await destination.RunAsync("migrate-incoming", new Dictionary<string, object> { ["uri"] = Uri! }, cancellationToken).ConfigureAwait(false);
        _source.Instance.Qmp.EventReceived += OnSourceEvent;
        await _source.RunAsync("migrate", new Dictionary<string, object> { ["uri"] = Uri! }, cancellationToken).ConfigureAwait(false);
    }

    private async Task SetUpSourceAsync(Dictionary<string, object> capabilities, CancellationToken cancellationToken)
    {
        await _source.AwaitMigrationCleanupAsync(cancellationToken).ConfigureAwait(false);
        _sourceSet = await _source.RamBlocksAsync(cancellationToken).ConfigureAwait(false);
        await _source.RunAsync("migrate-set-capabilities", capabilities, cancellationToken).ConfigureAwait(false);
        await _source.RunAsync("migrate-set-parameters", QemuMigrationParameters.Source(Parameters), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops following without touching either QEMU: the console is stopping, and the migration runs on in its processes.
    /// The next console finds it from the destination's marker and follows it again; this object never finishes.
    /// </summary>
    public void LetGo() => _lettingGo.Cancel();

    private async Task FollowAsync()
    {
        try
        {
            while (!Status.IsFinal())
            {
                if (_lettingGo.IsCancellationRequested)
                {
                    return;
                }

                await PollAsync(CancellationToken.None).ConfigureAwait(false);
                var fast = Status is MigrationStatus.Device or MigrationStatus.PreSwitchover or MigrationStatus.Cancelling or MigrationStatus.PostcopyActive
                    || (GetStats() is { Total: > 0 } s && s.Remaining < s.Total / 20);
                // The wait ends early when a MIGRATION event's poll has recorded the final state: the end is not held back a second.
                await Task.WhenAny(Task.Delay(fast ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(1), _time, _lettingGo.Token), _final.Task).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when ((ex is DomainException or OperationCanceledException) && !_lettingGo.IsCancellationRequested)
        {
            // The source's QEMU went away or answers no more: the migration failed with it.
            Record(GetStats() with { Status = MigrationStatus.Failed, ErrorDesc = ex.Message });
        }
        catch (Exception ex) when (ex is DomainException or OperationCanceledException)
        {
            // Let go of while asking: the console is stopping; QEMU decides the outcome.
        }
        finally
        {
            _source.Instance.Qmp.EventReceived -= OnSourceEvent;
            if (!_lettingGo.IsCancellationRequested)
            {
                try
                {
                    await EndAsync().ConfigureAwait(false);
                }
                finally
                {
                    // Whatever the clean-up met, the migration ends: nothing waits on it forever.
                    _source.Memory.Release(this);
                    _finished.TrySetResult();
                }
            }
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        // One poll at a time (the follower's and an event's): answers are recorded in the order QEMU gave them.
        await _pollGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Status.IsFinal())
            {
                // Another poll recorded the end (a MIGRATION event's, while migrate-continue was answered, say): the
                // source may already be quitting, and there is nothing left to ask it.
                return;
            }

            await PollOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pollGate.Release();
        }
    }

    private async Task PollOnceAsync(CancellationToken cancellationToken)
    {
        var info = await _source.RunAsync("query-migrate", null, cancellationToken).ConfigureAwait(false);
        var stats = QemuMigrationStats.From(info);
        if (stats.Status == MigrationStatus.Completed && stats.TotalTime == 0)
        {
            // QEMU 7.2 may say completed before it has filled in its figures (total-time 0): ask once more for them.
            stats = QemuMigrationStats.From(await _source.RunAsync("query-migrate", null, cancellationToken).ConfigureAwait(false));
        }

        Record(stats);
    }

    /// <summary>Takes a statistics snapshot: a new state goes to the log and raises StatusChanged, then Progress.</summary>
    private void Record(MigrationStats stats)
    {
        MigrationStatus? changed = null;
        lock (_gate)
        {
            var previous = _stats;
            if (previous.Status.IsFinal())
            {
                return;
            }

            if (stats.Total == 0 && previous.Total > 0)
            {
                // QEMU answers a cancelled or failed migration with its state only: the figures stay those last seen.
                stats = previous with { Status = stats.Status, ErrorDesc = stats.ErrorDesc ?? previous.ErrorDesc };
            }
            else if (previous.Status == MigrationStatus.Cancelling && stats.Status is MigrationStatus.Active or MigrationStatus.Setup or MigrationStatus.PreSwitchover or MigrationStatus.Device)
            {
                // Asked to cancel: an answer from before QEMU took it does not take the state back.
                stats = stats with { Status = MigrationStatus.Cancelling };
            }

            _stats = stats;
            if (stats.Status.IsFinal())
            {
                _final.TrySetResult();
            }

            if (stats.Status != previous.Status && stats.Status != MigrationStatus.None)
            {
                _events = _events.Add(new MigrationEvent(stats.Status, _time.GetUtcNow()));
                changed = stats.Status;
            }

            if (stats.CpuThrottlePercentage > 0 && (_throttleSteps.IsEmpty || _throttleSteps[^1] != stats.CpuThrottlePercentage))
            {
                _throttleSteps = _throttleSteps.Add(stats.CpuThrottlePercentage);
            }
        }

        if (changed is { } status && !status.IsFinal())
        {
            StatusChanged?.Invoke(this, status);
        }

        Progress?.Invoke(this);
    }

    private void OnSourceEvent(QmpEvent e)
    {
        if (e.Name is "MIGRATION")
        {
            _ = PollQuietlyAsync();
        }
    }

    private async Task PollQuietlyAsync()
    {
        try
        {
            await PollAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DomainException or OperationCanceledException)
        {
            // The follower's next poll says what happened.
        }
    }

    private static bool IsPostcopy(MigrationStatus status) =>
        status is MigrationStatus.PostcopyActive or MigrationStatus.PostcopyPaused or MigrationStatus.PostcopyRecover;

}
