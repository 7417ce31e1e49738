using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

public sealed class TeardownTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly TestEmulator _test = new();

    public void Dispose() => _test.Dispose();

    /// <summary>A VM built directly (the emulator's constructor is internal to the domain), so its teardown timeout can be short.</summary>
    private Vm VmWithTeardownTimeout(TimeSpan timeout) =>
        new(TestEmulator.Definition("quick", "q35", 64 * MiB), _test.Host, TimeProvider.System) { TeardownTimeout = timeout };

    private static byte[] ReadRam(Vm vm, long offset, int length)
    {
        var bytes = new byte[length];
        vm.MainRam.Read(offset, bytes);
        return bytes;
    }

    [Fact]
    public async Task ShutdownAsync_LeaseHeld_CancelsWaitsForReleaseFromOtherThreadThenShutsDown()
    {
        var testThread = Environment.CurrentManagedThreadId;
        var vm = _test.CreateQ35(start: true);
        vm.MainRam.Write(0, [1, 2, 3]);
        var holder = new TestLeaseHolder { Behaviour = TestLeaseHolder.OnCancel.ReleaseFromOtherThread };
        holder.AllowRelease.Reset();
        var lease = holder.AcquireOn(vm);

        var shutdown = vm.ShutdownAsync();
        Assert.True(holder.CancelRequested.Wait(Patience));

        // The worker has not let go: the VM is still running with its memory.
        await Task.Delay(50);
        Assert.False(shutdown.IsCompleted);
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.Equal(new byte[] { 1, 2, 3 }, ReadRam(vm, 0, 3));
        Assert.Equal(MigrationStatus.Cancelling, holder.Status);

        holder.AllowRelease.Set();
        await shutdown.WaitAsync(Patience);

        Assert.True(lease.Released.IsCompletedSuccessfully);
        Assert.NotNull(holder.ReleasedOnThread);
        Assert.NotEqual(testThread, holder.ReleasedOnThread);
        Assert.Equal([null], holder.CancelRequests);
        Assert.Equal(RunState.Shutdown, vm.RunState);
        Assert.False(vm.Freeze.IsFrozen);
    }

    [Fact]
    public async Task ShutdownAsync_AfterLeasedShutdown_NewMigrationMayStartAgain()
    {
        var vm = _test.CreateQ35(start: true);
        var holder = new TestLeaseHolder { Behaviour = TestLeaseHolder.OnCancel.ReleaseAtOnce };
        holder.AcquireOn(vm);

        await vm.ShutdownAsync().WaitAsync(Patience);

        var again = new TestLeaseHolder("mig-2").AcquireOn(vm);
        Assert.Same(again, vm.Freeze.Lease);
    }

    [Fact]
    public async Task DeleteVmAsync_LeaseHeld_CancelsWaitsForReleaseFromOtherThreadThenDeletes()
    {
        var vm = _test.CreateQ35("doomed", start: true);
        var ram = vm.MainRam;
        var holder = new TestLeaseHolder { Behaviour = TestLeaseHolder.OnCancel.ReleaseFromOtherThread };
        holder.AllowRelease.Reset();
        var lease = holder.AcquireOn(vm);
        var removed = new List<string>();
        _test.Emulator.InventoryChanged += (kind, name) =>
        {
            if (kind == InventoryChangeKind.VmRemoved)
            {
                removed.Add(name);
            }
        };

        var delete = _test.Emulator.DeleteVmAsync("doomed");
        Assert.True(holder.CancelRequested.Wait(Patience));
        await Task.Delay(50);
        Assert.False(delete.IsCompleted);
        Assert.False(ram.Memory.IsDisposed);
        Assert.Same(vm, _test.Emulator.GetVm("doomed"));

        holder.AllowRelease.Set();
        await delete.WaitAsync(Patience);

        Assert.True(lease.Released.IsCompletedSuccessfully);
        Assert.Equal(["doomed"], removed);
        Assert.False(_test.Emulator.TryGetVm("doomed", out _));
        Assert.True(ram.Memory.IsDisposed);
        Assert.Equal(0, _test.Host.ReservedBytes);
    }

    [Fact]
    public async Task DeleteVmAsync_NoLease_RemovedAndMemoryFreed()
    {
        var vm = _test.CreateQ35("plain", start: true);

        await _test.Emulator.DeleteVmAsync("plain");

        Assert.Empty(_test.Emulator.Vms);
        Assert.True(vm.MainRam.Memory.IsDisposed);
        Assert.Equal(0, _test.Host.ReservedBytes);
        Expect.Code("vm-not-found", () => vm.Start());
        Expect.Code("vm-not-found", () => vm.AddMemoryBackend("mem0", 4 * MiB));
        Assert.False(vm.TryChangeRunState(RunState.Running, RunState.Paused));
        await Expect.CodeAsync("vm-not-found", () => _test.Emulator.DeleteVmAsync("plain"));
    }

    [Fact]
    public async Task DeleteVmAsync_DeletedVm_NoMigrationCanStartOnIt()
    {
        var vm = _test.CreateQ35("gone");

        await _test.Emulator.DeleteVmAsync("gone");

        Expect.Code("vm-shutting-down", () => new TestLeaseHolder().AcquireOn(vm));
    }

    [Fact]
    public async Task DeleteVmAsync_NameFreedAfterDelete_SameNameCreatable()
    {
        _test.CreateQ35("reused");

        await _test.Emulator.DeleteVmAsync("reused");
        var again = _test.CreateQ35("reused");

        Assert.Same(again, _test.Emulator.GetVm("reused"));
    }

    [Fact]
    public async Task ShutdownAsync_HolderNeverReleases_MigrationDidNotStopAndVmIntact()
    {
        using var vm = VmWithTeardownTimeout(TimeSpan.FromMilliseconds(200));
        vm.Start();
        vm.MainRam.Write(4096, [7, 7]);
        var holder = new TestLeaseHolder("mig-stuck");
        var lease = holder.AcquireOn(vm);

        var exception = await Expect.CodeAsync("migration-did-not-stop", () => vm.ShutdownAsync());

        Assert.Contains("mig-stuck", exception.Message, StringComparison.Ordinal);
        Assert.Equal([null], holder.CancelRequests);
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.Equal(new byte[] { 7, 7 }, ReadRam(vm, 4096, 2));
        Assert.Same(lease, vm.Freeze.Lease);

        // Still frozen for changes; once the worker finally quits, shutdown works.
        Assert.Throws<MigratableSetFrozenException>(() => vm.SetMigratable(vm.MainRam.Id, false));
        lease.Dispose();
        await vm.ShutdownAsync().WaitAsync(Patience);
        Assert.Equal(RunState.Shutdown, vm.RunState);
    }

    [Fact]
    public async Task ShutdownAsync_HolderNeverReleasesAndTokenCancelled_OperationCanceledAndVmIntact()
    {
        var vm = _test.CreateQ35(start: true);
        vm.MainRam.Write(0, [42]);
        var holder = new TestLeaseHolder();
        holder.AcquireOn(vm);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => vm.ShutdownAsync(cancellation.Token));

        Assert.Equal(RunState.Running, vm.RunState);
        Assert.Equal(new byte[] { 42 }, ReadRam(vm, 0, 1));
        Assert.Single(holder.CancelRequests);
    }

    [Fact]
    public async Task DeleteVmAsync_HolderNeverReleasesAndTokenCancelled_OperationCanceledAndVmStays()
    {
        var vm = _test.CreateQ35("stays", start: true);
        vm.MainRam.Write(0, [42]);
        var holder = new TestLeaseHolder();
        var lease = holder.AcquireOn(vm);
        var reserved = _test.Host.ReservedBytes;
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _test.Emulator.DeleteVmAsync("stays", cancellation.Token));

        Assert.Same(vm, _test.Emulator.GetVm("stays"));
        Assert.Equal(new byte[] { 42 }, ReadRam(vm, 0, 1));
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.Equal(reserved, _test.Host.ReservedBytes);

        // The teardown gave up: a later delete, once the worker has quit, goes through.
        lease.Dispose();
        await _test.Emulator.DeleteVmAsync("stays").WaitAsync(Patience);
        Assert.Empty(_test.Emulator.Vms);
    }

    [Fact]
    public async Task DeleteVmAsync_HolderNeverReleases_MigrationDidNotStopAndVmStays()
    {
        using var vm = VmWithTeardownTimeout(TimeSpan.FromMilliseconds(200));
        var holder = new TestLeaseHolder();
        holder.AcquireOn(vm);

        await Expect.CodeAsync("migration-did-not-stop", () => vm.QuiesceForDeleteAsync(CancellationToken.None));

        Assert.False(vm.MainRam.Memory.IsDisposed);
        vm.MainRam.Read(0, new byte[1]);
    }

    [Fact]
    public async Task Acquire_DuringShutdown_VmShuttingDown()
    {
        var vm = _test.CreateQ35(start: true);
        var holder = new TestLeaseHolder { Behaviour = TestLeaseHolder.OnCancel.ReleaseFromOtherThread };
        holder.AllowRelease.Reset();
        holder.AcquireOn(vm);
        var shutdown = vm.ShutdownAsync();
        Assert.True(holder.CancelRequested.Wait(Patience));

        var exception = Expect.Code("vm-shutting-down", () => new TestLeaseHolder("mig-2").AcquireOn(vm));

        Assert.Equal(ErrorKind.Conflict, exception.Kind);
        holder.AllowRelease.Set();
        await shutdown.WaitAsync(Patience);
    }

    [Fact]
    public async Task Acquire_DuringDelete_VmShuttingDown()
    {
        var vm = _test.CreateQ35("deleting", start: true);
        var holder = new TestLeaseHolder { Behaviour = TestLeaseHolder.OnCancel.ReleaseFromOtherThread };
        holder.AllowRelease.Reset();
        holder.AcquireOn(vm);
        var delete = _test.Emulator.DeleteVmAsync("deleting");
        Assert.True(holder.CancelRequested.Wait(Patience));

        Expect.Code("vm-shutting-down", () => new TestLeaseHolder("mig-2").AcquireOn(vm));

        holder.AllowRelease.Set();
        await delete.WaitAsync(Patience);
    }

    [Fact]
    public async Task ShutdownAsync_WhileDeleteWaits_VmShuttingDown()
    {
        var vm = _test.CreateQ35("busy", start: true);
        var holder = new TestLeaseHolder { Behaviour = TestLeaseHolder.OnCancel.ReleaseFromOtherThread };
        holder.AllowRelease.Reset();
        holder.AcquireOn(vm);
        var delete = _test.Emulator.DeleteVmAsync("busy");
        Assert.True(holder.CancelRequested.Wait(Patience));

        await Expect.CodeAsync("vm-shutting-down", () => vm.ShutdownAsync());

        holder.AllowRelease.Set();
        await delete.WaitAsync(Patience);
        Assert.Empty(_test.Emulator.Vms);
    }

    [Fact]
    public void Dispose_Twice_Harmless()
    {
        var vm = VmWithTeardownTimeout(TimeSpan.FromSeconds(1));

        vm.Dispose();
        vm.Dispose();

        Assert.True(vm.MainRam.Memory.IsDisposed);
        Assert.Equal(0, _test.Host.ReservedBytes);
    }
}
