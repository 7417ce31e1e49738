using System.Collections.Concurrent;
using System.Collections.Immutable;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Hosts;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

/// <summary>Tests that measure time or process memory: run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NonParallelCollection
{
    public const string Name = "Non-parallel (timing and resident memory)";
}

/// <summary>
/// A migration stand-in that holds a VM's lease: settable status, records every cancel request and can release
/// the lease when asked to cancel (at once, or from another thread once allowed and after a delay).
/// </summary>
internal sealed class TestLeaseHolder(string migrationId = "mig-1") : IMigrationLeaseHolder
{
    private volatile MigrationStatus _status = MigrationStatus.Active;

    public enum OnCancel
    {
        /// <summary>Records the request and keeps the lease (a worker that never quits).</summary>
        Keep,

        /// <summary>Releases the lease inside RequestCancel.</summary>
        ReleaseAtOnce,

        /// <summary>Releases the lease from another thread, once <see cref="AllowRelease"/> is set and after <see cref="ReleaseDelay"/>.</summary>
        ReleaseFromOtherThread,
    }

    public string MigrationId { get; } = migrationId;

    public MigrationStatus Status { get => _status; set => _status = value; }

    public OnCancel Behaviour { get; set; } = OnCancel.Keep;

    public TimeSpan ReleaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public ManualResetEventSlim AllowRelease { get; } = new(true);

    /// <summary>Set when the first cancel request arrives.</summary>
    public ManualResetEventSlim CancelRequested { get; } = new(false);

    public MigrationLease? Lease { get; set; }

    public ConcurrentQueue<string?> CancelRequests { get; } = new();

    /// <summary>The managed thread that released the lease, once it has.</summary>
    public int? ReleasedOnThread { get; private set; }

    /// <summary>Takes <paramref name="vm"/>'s lease for this holder.</summary>
    public MigrationLease AcquireOn(Vm vm)
    {
        Lease = vm.Freeze.Acquire(this);
        return Lease;
    }

    public void RequestCancel(string? error)
    {
        CancelRequests.Enqueue(error);
        Status = MigrationStatus.Cancelling;
        CancelRequested.Set();
        switch (Behaviour)
        {
            case OnCancel.ReleaseAtOnce:
                Release();
                break;
            case OnCancel.ReleaseFromOtherThread:
                new Thread(() =>
                {
                    AllowRelease.Wait();
                    Thread.Sleep(ReleaseDelay);
                    Release();
                })
                { IsBackground = true, Name = "test migration worker" }.Start();
                break;
            default:
                break;
        }
    }

    public void Release()
    {
        Status = MigrationStatus.Cancelled;
        ReleasedOnThread = Environment.CurrentManagedThreadId;
        Lease?.Dispose();
    }
}

internal static class Expect
{
    /// <summary>Element-wise equality (an <see cref="ImmutableArray{T}"/>'s own Equals compares the array reference).</summary>
    public static void SameItems<T>(ImmutableArray<T> expected, ImmutableArray<T> actual) =>
        Assert.Equal<T>(expected.AsEnumerable(), actual.AsEnumerable());

    public static void DifferentItems<T>(ImmutableArray<T> expected, ImmutableArray<T> actual) =>
        Assert.NotEqual<T>(expected.AsEnumerable(), actual.AsEnumerable());

    /// <summary>Runs <paramref name="action"/>, which must throw an <see cref="DomainException"/> with <paramref name="code"/>.</summary>
    public static DomainException Code(string code, Action action)
    {
        var exception = Assert.ThrowsAny<DomainException>(action);
        Assert.Equal(code, exception.Code);
        return exception;
    }

    public static async Task<DomainException> CodeAsync(string code, Func<Task> action)
    {
        var exception = await Assert.ThrowsAnyAsync<DomainException>(action);
        Assert.Equal(code, exception.Code);
        return exception;
    }

    /// <summary>Waits for a workload to go quiet (its last batch done) and returns its final page count.</summary>
    public static long SettledPagesWritten(GuestWorkload workload)
    {
        var last = workload.PagesWritten;
        var stableReads = -1;
        Eventually.Wait(
            () =>
            {
                var now = workload.PagesWritten;
                stableReads = now == last ? stableReads + 1 : 0;
                last = now;
                return stableReads >= 3;
            },
            TimeSpan.FromSeconds(5),
            () => "The workload kept writing after the VM stopped running");
        return last;
    }
}
