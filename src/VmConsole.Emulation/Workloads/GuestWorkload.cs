using System.Buffers.Binary;
using VmConsole.Emulation.Blocks;

namespace VmConsole.Emulation.Workloads;

/// <summary>
/// A VM's guest activity: one background thread that writes pages of main RAM at the set rate while the VM
/// runs, slowed by the CPU throttle as QEMU's auto-converge slows vCPUs.
/// </summary>
/// <remarks>
/// Rate control keeps a budget of pages owed, grown by rate x (1 - throttle) x elapsed time and spent in
/// batches every couple of milliseconds, so the long-run rate holds whatever the sleep granularity.
/// A backlog of at most <see cref="MaxBacklog"/> is kept across a stall: a guest that was descheduled
/// writes a little faster for a moment, not a second's worth of pages in one burst.
/// Time is the <see cref="TimeProvider"/>'s, counted from the call that set the guest running (not from when the
/// thread got round to it), so a test that moves a fake clock gets exactly rate x time pages.
/// </remarks>
public sealed class GuestWorkload : IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(2);

    /// <summary>The most time a stalled workload makes up for.</summary>
    public static readonly TimeSpan MaxBacklog = TimeSpan.FromMilliseconds(200);

    // Main RAM in guest order (one block, or one per NUMA node); fixed for the VM's life.
    private readonly RamBlock[] _ram;
    private readonly long[] _firstPage;
    private readonly long _ramBytes;
    private readonly TimeProvider _time;
    private readonly ManualResetEventSlim _wake = new(false);

    // Held by the worker for each batch of writes; taken by whoever stops the guest, so that once
    // Active is false no write lands afterwards (a paused source must not change under the final sync).
    private readonly Lock _batch = new();

    // Written by the owning VM (any thread), read by the worker thread.
    private volatile WorkloadSpec _spec = WorkloadSpec.Idle;
    private volatile bool _active;
    private volatile int _throttlePercent;
    private volatile bool _stopping;

    // Written (Interlocked) by whoever sets the guest running or sets its spec, before waking the worker; read by the
    // worker when it starts writing after being idle: the time the guest writes counts from then.
    private long _runningSince;

    // Written by the worker thread (Interlocked), read by anyone.
    private long _pagesWritten;

    // Written by the worker thread (Interlocked): the clock reading up to which it has written what the rate owes.
    private long _caughtUpTo;

    // Owned by the worker thread; reset by Restart under the VM's gate while the worker is idle or racing benignly.
    private long _sweepPage;

    private Thread? _thread;

    /// <param name="ram">Main RAM in guest order: the workload writes its pages as one range, across NUMA nodes.</param>
    internal GuestWorkload(IReadOnlyList<RamBlock> ram, TimeProvider time, string vmName)
    {
        _ram = [.. ram];
        _firstPage = new long[_ram.Length];
        for (var i = 1; i < _ram.Length; i++)
        {
            _firstPage[i] = _firstPage[i - 1] + (_ram[i - 1].UsedLength / _ram[i - 1].PageSize);
        }

        _ramBytes = _ram.Sum(b => b.UsedLength);
        _time = time;
        VmName = vmName;
    }

    public string VmName { get; }

    public WorkloadSpec Spec => _spec;

    /// <summary>Pages written since the VM was created.</summary>
    public long PagesWritten => Interlocked.Read(ref _pagesWritten);

    /// <summary>CPU throttle in percent (0 to 99), as auto-converge sets it.</summary>
    public int ThrottlePercent
    {
        get => _throttlePercent;
        set
        {
            if (value is < 0 or > 99)
            {
                throw DomainException.Invalid(ErrorCodes.InvalidThrottle, $"CPU throttle must be between 0 and 99 percent; got {value}.");
            }

            _throttlePercent = value;
        }
    }

    /// <summary>
    /// Whether the guest has written everything its rate owes up to <paramref name="timestamp"/> of its clock, or writes
    /// nothing now: lets a test on a fake clock move time on only once the guest has kept up.
    /// </summary>
    internal bool HasCaughtUpWith(long timestamp) =>
        !_active || _spec.Kind == WorkloadKind.Idle || Interlocked.Read(ref _caughtUpTo) >= timestamp;

    /// <summary>Whether the guest runs (the VM's run state is running). Setting false returns once no write is in flight.</summary>
    internal bool Active
    {
        get => _active;
        set
        {
            if (value)
            {
                Interlocked.Exchange(ref _runningSince, _time.GetTimestamp());
            }

            _active = value;
            if (!value)
            {
                lock (_batch)
                {
                    // Waits for the batch in flight, if any: it checked _active before writing.
                }
            }

            _wake.Set();
        }
    }

    internal void SetSpec(WorkloadSpec spec)
    {
        spec.Validate(_ramBytes, _ram[0].PageSize);
        Interlocked.Exchange(ref _runningSince, _time.GetTimestamp());
        _spec = spec;
        if (spec.Kind != WorkloadKind.Idle && _thread is null && !_stopping)
        {
            _thread = new Thread(Run) { IsBackground = true, Name = $"guest {VmName}" };
            _thread.Start();
        }

        _wake.Set();
    }

    /// <summary>Starts the sweep from the first page again (a guest reboot).</summary>
    internal void Restart() => Interlocked.Exchange(ref _sweepPage, 0);

    /// <summary>How many pages the sweep has incremented: its position is this modulo the working set. Guest state a migration carries.</summary>
    public long SweepPage => Interlocked.Read(ref _sweepPage);

    /// <summary>Continues a sweep from where another guest left it (the destination of a migration).</summary>
    internal void ResumeSweepAt(long page)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(page);
        Interlocked.Exchange(ref _sweepPage, page);
    }

    private void Run()
    {
        var random = new Random(HashCode.Combine(VmName, Environment.TickCount));
        var last = Interlocked.Read(ref _runningSince);
        var budget = 0.0;
        while (!_stopping)
        {
            _wake.Reset();

            // The clock before the spec: time that passes after a change to idle or paused is never charged to the old spec.
            var now = _time.GetTimestamp();
            var spec = _spec;
            if (!_active || spec.Kind == WorkloadKind.Idle)
            {
                _wake.Wait();
                last = Interlocked.Read(ref _runningSince);
                budget = 0;
                continue;
            }

            var rate = spec.PagesPerSecond * (100 - _throttlePercent) / 100.0;
            budget = Math.Min(budget + (rate * _time.GetElapsedTime(last, now).TotalSeconds), (rate * MaxBacklog.TotalSeconds) + 1);
            last = now;
            var pages = (long)budget;
            if (pages > 0)
            {
                budget -= pages;
                lock (_batch)
                {
                    if (_active)
                    {
                        Write(spec, pages, random);
                    }
                }
            }

            Interlocked.Exchange(ref _caughtUpTo, now);

            _wake.Wait(Tick);
        }
    }

    private void Write(WorkloadSpec spec, long pages, Random random)
    {
        var pageSize = _ram[0].PageSize;
        var workingPages = (spec.WorkingSetBytes == 0 ? _ramBytes : spec.WorkingSetBytes) / pageSize;
        var hotPages = Math.Max(1, workingPages / 5);
        var accesses = new Memory.GuestMemoryAccess[_ram.Length];
        try
        {
            for (var b = 0; b < _ram.Length; b++)
            {
                accesses[b] = _ram[b].Memory.Acquire();
            }

            for (long i = 0; i < pages; i++)
            {
                long page;
                switch (spec.Kind)
                {
                    case WorkloadKind.Sweep:
                        page = Interlocked.Increment(ref _sweepPage) - 1;
                        page %= workingPages;
                        break;
                    case WorkloadKind.Hotspot:
                        page = random.Next(10) < 8 || hotPages == workingPages
                            ? random.NextInt64(hotPages)
                            : hotPages + random.NextInt64(workingPages - hotPages);
                        break;
                    default:
                        page = random.NextInt64(workingPages);
                        break;
                }

                var block = BlockOf(page);
                var inBlock = page - _firstPage[block];
                if (spec.Kind == WorkloadKind.Sweep)
                {
                    accesses[block].Span(inBlock * pageSize, 1)[0]++;
                }
                else
                {
                    WriteWord(accesses[block], (inBlock * pageSize) + (random.Next((int)(pageSize / 8)) * 8), random.NextInt64());
                }

                _ram[block].DirtyLog.Set(inBlock);
                _ram[block].RateLog.Set(inBlock);
            }
        }
        finally
        {
            foreach (var access in accesses)
            {
                access.Dispose();
            }
        }

        Interlocked.Add(ref _pagesWritten, pages);
    }

    /// <summary>The main RAM block that holds guest RAM page <paramref name="page"/>.</summary>
    private int BlockOf(long page)
    {
        var block = _ram.Length - 1;
        while (_firstPage[block] > page)
        {
            block--;
        }

        return block;
    }

    private static void WriteWord(Memory.GuestMemoryAccess access, long offset, long value) =>
        BinaryPrimitives.WriteInt64LittleEndian(access.Span(offset, 8), value);

    /// <summary>Stops the thread and waits for it, so that nothing writes guest memory afterwards.</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _wake.Set();
        _thread?.Join();
        _wake.Dispose();
    }
}
