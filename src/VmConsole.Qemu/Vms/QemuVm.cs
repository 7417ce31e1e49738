using System.Text.Json;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Qemu.Memory;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Qmp;

namespace VmConsole.Qemu.Vms;

/// <summary>
/// A VM that is a real QEMU process: its run state from <c>query-status</c>, kept current by QEMU's events (STOP,
/// RESUME, RESET, SHUTDOWN, MIGRATION) and by the monitor closing when the process exits by itself; its power actions
/// as QMP commands; its RAM block table read live. QEMU's refusals and silence become <see cref="DomainException"/>s
/// with QEMU's words, so that the API and UI show them like any other refusal.
/// </summary>
public sealed class QemuVm : IAsyncDisposable
{
    private readonly QemuInstance _instance;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _refresh = new(1, 1);

    // Written by the refresh (under _refresh) and the close handler; read by anyone.
    private volatile string _status = "prelaunch";
    private volatile string? _exitReason;

    // Set once the process is known gone and _exitReason says how (after the monitor closed and the exit was seen).
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Replaced whole by the memory operations (after QEMU accepted them); read by anyone.
    private QemuVmSpec _spec;

    private QemuVm(QemuVmSpec spec, QemuInstance instance, TimeProvider time)
    {
        _spec = spec;
        _instance = instance;
        _time = time;
        instance.Qmp.EventReceived += OnEvent;
        Memory = new QemuVmMemory(this);
        _ = OnClosedAsync();
    }

    /// <summary>The run state changed (raised on the monitor's reader or a refresh; a handler must not block).</summary>
    public event Action<QemuVm>? Changed;

    /// <summary>Its backends or DIMMs changed: one was added, removed, plugged, or an unplug completed.</summary>
    public event Action<QemuVm>? MemoryChanged;

    public string Name => Spec.Name;

    /// <summary>Its backends and DIMMs, with the freeze in front of QEMU.</summary>
    public QemuVmMemory Memory { get; }

    /// <summary>
    /// What it runs, kept current as backends and DIMMs come and go (a destination of a migration is started from it, so
    /// it must match what QEMU has now).
    /// </summary>
    public QemuVmSpec Spec { get => Volatile.Read(ref _spec); internal set => Volatile.Write(ref _spec, value); }

    public int Pid => _instance.Pid;

    /// <summary>The process and its monitor, for the driver's migrations.</summary>
    internal QemuInstance Instance => _instance;

    /// <summary>Where its sockets and files are.</summary>
    public string RuntimeDirectory => _instance.RuntimeDirectory;

    /// <summary>The arguments its process was started with.</summary>
    public IReadOnlyList<string> CommandLine => _instance.CommandLine;

    public QmpVersion QemuVersion => _instance.Qmp.Version;

    /// <summary>QEMU's own status word (<c>running</c>, <c>paused</c>, <c>postmigrate</c>, <c>finish-migrate</c>...), or <c>shutdown</c> once the process is gone.</summary>
    public string QemuStatus => _exitReason is null ? _status : "shutdown";

    public RunState RunState => QemuStatus switch
    {
        "running" => RunState.Running,
        "prelaunch" => RunState.Prelaunch,
        "inmigrate" => RunState.InMigrate,
        "postmigrate" => RunState.PostMigrate,
        "finish-migrate" => RunState.FinishMigrate,
        "shutdown" => RunState.Shutdown,
        _ => RunState.Paused,
    };

    /// <summary>Why the process is gone (null while it runs).</summary>
    public string? ExitReason => _exitReason;

    /// <summary>Starts the VM's QEMU process and follows it.</summary>
    public static async Task<QemuVm> StartAsync(QemuLauncher launcher, QemuVmSpec spec, string runtimeDirectory, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        var instance = await launcher.StartAsync(spec, runtimeDirectory, cancellationToken).ConfigureAwait(false);
        var vm = new QemuVm(spec, instance, time ?? TimeProvider.System);
        await vm.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return vm;
    }

    /// <summary>
    /// Follows a QEMU this console started before it restarted, if its process still runs (null when it is gone: the VM
    /// is shut off). The guest is not touched: it kept running while the console was away.
    /// </summary>
    /// <param name="commandLine">What the process was started with, if known (its spec may have changed since by hotplug).</param>
    public static async Task<QemuVm?> AttachAsync(
        QemuLauncher launcher, QemuVmSpec spec, string runtimeDirectory, TimeProvider? time = null, IReadOnlyList<string>? commandLine = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        var instance = await launcher.AttachAsync(runtimeDirectory, commandLine ?? QemuCommandLine.Build(spec, runtimeDirectory), cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            return null;
        }

        var vm = new QemuVm(spec, instance, time ?? TimeProvider.System);
        await vm.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return vm;
    }

    /// <summary>
    /// The guest's dirty rate in MB/s, as QEMU samples it (<c>calc-dirty-rate</c> over <paramref name="seconds"/>, then
    /// <c>query-dirty-rate</c>); null when QEMU could not measure (the guest is not running).
    /// </summary>
    public async Task<long?> MeasureDirtyRateAsync(int seconds = 1, CancellationToken cancellationToken = default)
    {
        await RunAsync("calc-dirty-rate", new Dictionary<string, object> { ["calc-time"] = seconds }, cancellationToken).ConfigureAwait(false);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200), _time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            var result = await RunAsync("query-dirty-rate", null, cancellationToken).ConfigureAwait(false);
            switch (result.GetProperty("status").GetString())
            {
                case "measured":
                    return result.TryGetProperty("dirty-rate", out var rate) ? rate.GetInt64() : null;
                case "measuring":
                    continue;
                default:
                    return null;
            }
        }

        return null;
    }

    /// <summary>Reads <c>query-status</c> again and raises <see cref="Changed"/> when it moved.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_exitReason is not null)
            {
                return;
            }

            var status = (await RunAsync("query-status", null, cancellationToken).ConfigureAwait(false)).GetProperty("status").GetString() ?? "paused";
            if (status != _status)
            {
                _status = status;
                Changed?.Invoke(this);
            }
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary><c>stop</c>: the guest's vCPUs stop; its memory stays.</summary>
    public async Task PauseAsync(CancellationToken cancellationToken = default)
    {
        Require(RunState.Running, PowerAction.Pause);
        await RunAsync("stop", null, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>cont</c>; refused for a source left in <c>postmigrate</c> (QEMU 7.2 would accept it, and two copies of the guest would run).</summary>
    public async Task ResumeAsync(CancellationToken cancellationToken = default)
    {
        if (RunState == RunState.PostMigrate)
        {
            throw DomainException.Conflict(
                ErrorCodes.VmPostmigrate,
                $"VM '{Name}' has migrated away (postmigrate): resuming this copy would run the guest twice. Its destination runs it.");
        }

        Require(RunState.Paused, PowerAction.Resume, RunState.Prelaunch);
        await RunAsync("cont", null, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>system_reset</c>: the guest reboots; the process and its memory layout stay.</summary>
    public async Task ResetAsync(CancellationToken cancellationToken = default)
    {
        Require(RunState.Running, PowerAction.Reset, RunState.Paused);
        await RunAsync("system_reset", null, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Shuts down: <c>system_powerdown</c> (the guest may act on the ACPI button), and if the process is still there after
    /// <paramref name="grace"/>, <c>quit</c>; if even that does not end it in time, SIGKILL.
    /// </summary>
    public async Task ShutdownAsync(TimeSpan grace, CancellationToken cancellationToken = default)
    {
        if (_exitReason is not null)
        {
            return;
        }

        try
        {
            await _instance.Qmp.ExecuteAsync("system_powerdown", cancellationToken: cancellationToken).ConfigureAwait(false);
            await _instance.Qmp.Closed.WaitAsync(grace, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or QmpDisconnectedException or QmpException)
        {
            // The guest did not power off in time (or QEMU went meanwhile): quit it.
        }

        await _instance.QuitAsync(grace, _time, cancellationToken).ConfigureAwait(false);
        await _instance.Qmp.Closed.WaitAsync(grace, _time, cancellationToken).ConfigureAwait(false);

        // Returns once the VM says it is shut down, not merely once its monitor closed.
        await _exited.Task.WaitAsync(grace, _time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The RAM block table now: <c>x-query-ramblock</c> joined with the backends and memory devices.</summary>
    public async Task<IReadOnlyList<QemuRamBlock>> RamBlocksAsync(CancellationToken cancellationToken = default)
    {
        var text = (await RunAsync("x-query-ramblock", null, cancellationToken).ConfigureAwait(false)).GetProperty("human-readable-text").GetString() ?? "";
        var memdevs = await RunAsync("query-memdev", null, cancellationToken).ConfigureAwait(false);
        var devices = await RunAsync("query-memory-devices", null, cancellationToken).ConfigureAwait(false);
        return QemuRamBlockTable.Join(QemuRamBlockTable.Parse(text), memdevs, devices);
    }

    internal void RaiseMemoryChanged() => MemoryChanged?.Invoke(this);

    /// <summary>Kills the process (a QEMU that does not answer); the VM then shows as shut down with that reason.</summary>
    public void Kill() => _instance.Kill();

    /// <summary>Lets go of the monitor; the process keeps running (it outlives the console).</summary>
    public ValueTask DisposeAsync()
    {
        _instance.Qmp.EventReceived -= OnEvent;
        return _instance.DisposeAsync();
    }

    /// <summary>How long a new migration waits for QEMU to clean up its last one.</summary>
    internal static readonly TimeSpan MigrationCleanupWait = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Waits until QEMU has cleaned up its last migration, so that a new <c>migrate</c> is not refused. A migration that
    /// failed (or was cancelled when its connection broke) already reads as ended in <c>query-migrate</c> while QEMU's
    /// cleanup is still to run, and a <c>migrate</c> in between is refused with "duplicate yank instance" (seen on 7.2
    /// with multifd, right after a cancel). The cleanup's last step removes the "migration" yank instance, which
    /// <c>query-yank</c> lists.
    /// </summary>
    /// <exception cref="DomainException">409 <c>qemu-busy</c> when QEMU has not cleaned up within <see cref="MigrationCleanupWait"/>.</exception>
    internal async Task AwaitMigrationCleanupAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20), _time);
        while (HasMigrationYankInstance(await RunAsync("query-yank", null, cancellationToken).ConfigureAwait(false)))
        {
            if (_time.GetElapsedTime(started) > MigrationCleanupWait)
            {
                throw DomainException.Conflict(
                    ErrorCodes.QemuBusy,
                    $"QEMU of VM '{Name}' is still cleaning up its last migration after {MigrationCleanupWait.TotalSeconds:0} s (its 'migration' yank instance is still registered); try again in a moment.");
            }

            await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool HasMigrationYankInstance(JsonElement instances) =>
        instances.ValueKind == JsonValueKind.Array
        && instances.EnumerateArray().Any(i => i.TryGetProperty("type", out var type) && type.ValueEquals("migration"));

    internal async Task<JsonElement> RunAsync(string command, object? arguments, CancellationToken cancellationToken)
    {
        try
        {
            return await _instance.Qmp.ExecuteAsync(command, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException refused)
        {
            throw DomainException.Conflict(ErrorCodes.QemuRefused, $"QEMU of VM '{Name}' refused {command}: {refused.Description}.");
        }
        catch (QmpTimeoutException slow)
        {
            throw DomainException.Conflict(ErrorCodes.QemuBusy, $"QEMU of VM '{Name}' is busy: it did not answer {command} within {slow.Timeout.TotalSeconds:0} s. The command may still take effect; look again in a moment.");
        }
        catch (QmpDisconnectedException)
        {
            throw DomainException.Conflict(ErrorCodes.QemuGone, $"QEMU of VM '{Name}' is gone ({_exitReason ?? _instance.Qmp.CloseReason}).");
        }
    }

    private void Require(RunState expected, PowerAction action, RunState? alsoFrom = null)
    {
        var state = RunState;
        if (state == RunState.FinishMigrate)
        {
            // QEMU 7.2 would take cont here and run the guest while its last pages and device state are on the way.
            throw DomainException.Conflict(
                ErrorCodes.IllegalPowerTransition,
                $"Cannot {action.ToQemuName()} VM '{Name}' while it is finish-migrate: its migration has stopped the guest to switch over. Continue or cancel the migration first (cancel puts the VM back as it was).");
        }

        if (state != expected && state != alsoFrom)
        {
            throw DomainException.Conflict(ErrorCodes.IllegalPowerTransition, $"Cannot {action.ToQemuName()} VM '{Name}' while it is {state.ToQemuName()}.");
        }
    }

    private void OnEvent(QmpEvent e)
    {
        if (e.Name is "STOP" or "RESUME" or "RESET" or "SHUTDOWN" or "MIGRATION" or "POWERDOWN")
        {
            _ = RefreshQuietlyAsync();
        }
    }

    private async Task RefreshQuietlyAsync()
    {
        try
        {
            await RefreshAsync().ConfigureAwait(false);
        }
        catch (DomainException)
        {
            // Gone meanwhile: OnClosed says so.
        }
    }

    private async Task OnClosedAsync()
    {
        await _instance.Qmp.Closed.ConfigureAwait(false);

        // The monitor closes as the process exits: give the exit a moment to finish before saying which it was.
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20), _time);
        for (var i = 0; i < 50 && _instance.IsAlive; i++)
        {
            await timer.WaitForNextTickAsync().ConfigureAwait(false);
        }

        _exitReason = _instance.IsAlive
            ? $"the console lost its monitor connection: {_instance.Qmp.CloseReason}"
            : "its QEMU process exited";
        _exited.TrySetResult();
        Changed?.Invoke(this);
    }
}
