using System.Text.Json;
using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Qemu.Processes;
using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Driver;

/// <summary>
/// A QEMU VM as the console manages it (a libvirt "domain"): its definition, its host, and the QEMU process that runs it
/// when one does. It outlives its processes: shut down, it is listed as shut off with the reason, and can start again.
/// </summary>
/// <remarks>
/// Start, shutdown and the move to a migration's destination are serialised by <see cref="_lifecycle"/>; the running
/// process and the host are replaced whole under it and read without it.
/// </remarks>
public sealed partial class QemuDomain : IVirtualMachine, IAsyncDisposable
{
    private const VmFeatures QemuFeatures = VmFeatures.Process | VmFeatures.MeasuredDirtyRate | VmFeatures.ReadGuestMemory | VmFeatures.Postcopy;

    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly TimeSpan _teardownTimeout;

    // Replaced whole under _lifecycle; read by anyone.
    private QemuHost _host;
    private QemuVm? _vm;
    private QemuVmSpec _spec;
    private IReadOnlyList<string>? _commandLine;
    private string? _stoppedReason;

    internal QemuDomain(Guid id, QemuHost host, QemuVmSpec spec, IReadOnlyList<string>? commandLine, TimeSpan teardownTimeout)
    {
        Id = id;
        _host = host;
        _spec = spec;
        _commandLine = commandLine;
        _teardownTimeout = teardownTimeout;
        _stoppedReason = "not started";
    }

    public event Action<IVirtualMachine, VmChangeKind>? StateChanged;

    public Guid Id { get; }

    public string Name => _spec.Name;

    public QemuHost Host => Volatile.Read(ref _host);

    public string HostName => Host.Name;

    public DriverKind Driver => DriverKind.Qemu;

    public string Machine => _spec.Machine;

    public string? MainRamBackend => _spec.MainRamBackend;

    public IReadOnlyList<NumaNode> NumaNodes => _spec.NumaNodes;

    /// <summary>Its definition now (backends and DIMMs follow what QEMU accepted).</summary>
    public QemuVmSpec Spec => Running?.Spec ?? Volatile.Read(ref _spec);

    /// <summary>The QEMU process running it, or null while it is shut off.</summary>
    public QemuVm? Running => Volatile.Read(ref _vm) is { ExitReason: null } vm ? vm : null;

    public RunState RunState => Running?.RunState ?? RunState.Shutdown;

    public string? StateReason => Running is null ? (Volatile.Read(ref _vm)?.ExitReason ?? _stoppedReason) : null;

    public long MemoryBytes => _spec.MemoryBytes;

    public int Slots => _spec.Slots;

    public long MaxMemBytes => _spec.Slots > 0 ? _spec.MaxMemBytes : _spec.MemoryBytes;

    public VmFeatures Features => QemuFeatures;

    /// <summary>The guest program it runs.</summary>
    public GuestProgram Guest => _spec.Guest is null ? GuestProgram.None : GuestProgram.Sweep;

    public string Activity => Guest == GuestProgram.Sweep ? "sweep guest" : "firmware only";

    public VmProcessInfo? Process => Running is { } vm ? new VmProcessInfo(vm.Pid, vm.QemuVersion.ToString(), vm.CommandLine, vm.RuntimeDirectory) : null;

    public bool Frozen => Running?.Memory.Holder is not null;

    /// <summary>What it reserves of its host: RAM and backends.</summary>
    public long ReservedBytes => Spec.MemoryBytes + Spec.Backends.Sum(b => b.SizeBytes);

    public async Task PowerAsync(PowerAction action, CancellationToken cancellationToken = default)
    {
        switch (action)
        {
            case PowerAction.Start:
                await StartAsync(cancellationToken).ConfigureAwait(false);
                break;
            case PowerAction.Pause:
                await RequireRunning(action).PauseAsync(cancellationToken).ConfigureAwait(false);
                break;
            case PowerAction.Resume:
                await RequireRunning(action).ResumeAsync(cancellationToken).ConfigureAwait(false);
                break;
            case PowerAction.Reset:
                await RequireRunning(action).ResetAsync(cancellationToken).ConfigureAwait(false);
                break;
            case PowerAction.Shutdown:
                await ShutdownAsync("shut down by the console", cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw DomainException.Invalid(ErrorCodes.InvalidPowerAction, $"'{action}' is not a power action.", "action");
        }
    }

    /// <summary>Lets go of the monitor; the process keeps running (it outlives the console).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _vm) is { } vm)
        {
            Detach(vm);
            await vm.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Follows the process that was running it before the console restarted, if it still runs.</summary>
    internal async Task AttachAsync(CancellationToken cancellationToken)
    {
        if (Host.Launcher is not { } launcher)
        {
            _stoppedReason = Host.UnavailableReason;
            return;
        }

        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var vm = await QemuVm.AttachAsync(launcher, _spec, Host.VmDirectory(Name), TimeProvider.System, _commandLine, cancellationToken).ConfigureAwait(false);
            if (vm is null)
            {
                _stoppedReason = "its QEMU process was not running when the console started";
                return;
            }

            Adopt(vm);
        }
        catch (QemuStartException ex)
        {
            _stoppedReason = ex.Message;
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Ends the VM's process for good (delete): a migration holding it is cancelled and waited for, bounded; then
    /// <c>quit</c>, and SIGKILL if even that does not end it.
    /// </summary>
    internal async Task DestroyAsync(CancellationToken cancellationToken)
    {
        await ShutdownAsync("deleted", cancellationToken).ConfigureAwait(false);
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// After a completed migration: the VM now runs on <paramref name="host"/> in <paramref name="arrived"/>, the
    /// destination's process, and its definition is kept there. The source's process is in postmigrate; with
    /// <paramref name="keepOld"/> the caller (the completing migration) quits it and lets go of its monitor afterwards.
    /// </summary>
    internal async Task MoveAsync(QemuVm arrived, QemuHost host, bool keepOld = false)
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            var old = Volatile.Read(ref _vm);
            if (old is not null)
            {
                Detach(old);
            }

            if (old is not null && !keepOld)
            {
                try
                {
                    await old.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
                {
                    // The source's monitor went with its process; the VM is the destination's from here on regardless.
                }
            }

            Volatile.Write(ref _host, host);
            _commandLine = arrived.CommandLine;
            // It was started to receive (-incoming defer): as the VM, it starts as any VM does next time.
            arrived.Spec = arrived.Spec with { Incoming = false, Paused = false };
            Adopt(arrived);
            await SaveQuietlyAsync().ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }

        Raise(VmChangeKind.RunState);
    }

    /// <summary>Writes its definition where the driver finds it after a restart.</summary>
    internal Task SaveAsync(CancellationToken cancellationToken = default) =>
        QemuDomainFile.From(Id, Host.Name, Spec, _commandLine).SaveAsync(Host.VmDirectory(Name), cancellationToken);

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var launcher = Host.RequireLauncher();
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Running is not null)
            {
                throw DomainException.Conflict(ErrorCodes.IllegalPowerTransition, $"VM '{Name}' is already running (pid {Running.Pid}).");
            }

            QemuVm vm;
            try
            {
                vm = await QemuVm.StartAsync(launcher, Spec, Host.VmDirectory(Name), TimeProvider.System, cancellationToken).ConfigureAwait(false);
            }
            catch (QemuStartException ex)
            {
                throw DomainException.Conflict(ErrorCodes.QemuStartFailed, ex.Message);
            }

            _commandLine = vm.CommandLine;
            if (Volatile.Read(ref _vm) is { } old)
            {
                Detach(old);
                await old.DisposeAsync().ConfigureAwait(false);
            }

            Adopt(vm);
            await SaveAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }

        Raise(VmChangeKind.RunState);
    }

    private async Task ShutdownAsync(string reason, CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Running is not { } vm)
            {
                return;
            }

            // Never quit QEMU mid-migration: cancel, and wait (bounded) for the migration to end and let go.
            if (vm.Memory.Holder is { } migration)
            {
                migration.Cancel();
                try
                {
                    await migration.Finished.WaitAsync(_teardownTimeout, TimeProvider.System, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw DomainException.Conflict(
                        ErrorCodes.VmMigrating,
                        $"VM '{Name}' is in migration {migration.Id}, which did not end within {_teardownTimeout.TotalSeconds:0} s of being cancelled; try again once it has.");
                }
            }

            _stoppedReason = reason;
            await vm.ShutdownAsync(_teardownTimeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }

        Raise(VmChangeKind.RunState);
    }

    private void Adopt(QemuVm vm)
    {
        Volatile.Write(ref _spec, vm.Spec);
        Volatile.Write(ref _vm, vm);
        vm.Changed += OnRunStateChanged;
        vm.MemoryChanged += OnMemoryChanged;
    }

    private void Detach(QemuVm vm)
    {
        vm.Changed -= OnRunStateChanged;
        vm.MemoryChanged -= OnMemoryChanged;
    }

    private void OnRunStateChanged(QemuVm vm) => Raise(VmChangeKind.RunState);

    private void OnMemoryChanged(QemuVm vm)
    {
        Volatile.Write(ref _spec, vm.Spec);
        _ = SaveQuietlyAsync();
        Raise(VmChangeKind.RamBlocks);
        Raise(VmChangeKind.Devices);
    }

    private async Task SaveQuietlyAsync()
    {
        try
        {
            await SaveAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The next change writes it again; the running process is what counts meanwhile.
        }
    }

    private QemuVm RequireRunning(PowerAction action) =>
        Running ?? throw DomainException.Conflict(ErrorCodes.VmNotRunning, $"Cannot {action.ToQemuName()} VM '{Name}': it is shut off ({StateReason}).");

    private void Raise(VmChangeKind kind) => StateChanged?.Invoke(this, kind);
}
