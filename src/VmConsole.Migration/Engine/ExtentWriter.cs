using VmConsole.Emulation.Memory;

namespace VmConsole.Migration.Engine;

/// <summary>
/// Writes whole 2 MiB extents into guest memory on threads of its own (one per core, at most four), so that the kernel's
/// work of backing their pages (a fault, an allocation and a clear per page: the bulk of a destination's cost) runs
/// beside the receiver and in parallel instead of in the receiver's way. The receiver fills a buffer it rented here,
/// hands it over with <see cref="Write"/>, and goes on reading the stream; <see cref="Drain"/> waits until every
/// handed-over extent is in memory.
/// </summary>
/// <remarks>
/// The receiver owns ordering: it hands over only extents no earlier record touched, and drains before any record
/// that could touch one still on its way (see <see cref="DestinationSink"/>). Buffers are bounded (two of 2 MiB per
/// thread), so a receiver faster than the kernel waits in <see cref="Rent"/>.
/// </remarks>
internal sealed class ExtentWriter : IDisposable
{
    public const int ExtentBytes = 2 << 20;

    private readonly Thread[] _threads;

    // _jobs, _free, _pending and _completed are read and written under _gate by the receiver and the writer threads (a
    // monitor: a waiting thread blocks without spinning, which on a machine with few cores would take time from the
    // receiver and the sender).
    private readonly object _gate = new();
    private readonly Queue<(GuestMemoryAccess Memory, long Offset, byte[] Data)> _jobs = new();
    private readonly Stack<byte[]> _free = new();

    // Extents handed over and not yet in memory.
    private int _pending;
    private bool _completed;

    // Written by a writer thread, read by the receiver after a drain.
    private Exception? _error;

    public ExtentWriter()
    {
        _threads = new Thread[Math.Clamp(Environment.ProcessorCount, 1, 4)];
        for (var i = 0; i < 2 * _threads.Length; i++)
        {
            _free.Push(GC.AllocateUninitializedArray<byte>(ExtentBytes));
        }

        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = "Migration extent writer" };
            _threads[i].Start();
        }
    }

    /// <summary>A buffer of <see cref="ExtentBytes"/> to fill; waits while all are on their way into memory.</summary>
    public byte[] Rent()
    {
        lock (_gate)
        {
            while (_free.Count == 0)
            {
                Monitor.Wait(_gate);
            }

            return _free.Pop();
        }
    }

    /// <summary>Gives back a buffer that was not handed over.</summary>
    public void Return(byte[] buffer)
    {
        lock (_gate)
        {
            _free.Push(buffer);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Hands over <paramref name="data"/>, the whole extent at <paramref name="offset"/>; the buffer comes back when it is written.</summary>
    public void Write(GuestMemoryAccess memory, long offset, byte[] data)
    {
        lock (_gate)
        {
            _pending++;
            _jobs.Enqueue((memory, offset, data));
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Waits until every extent handed over is in memory; rethrows what went wrong writing one.</summary>
    public void Drain()
    {
        lock (_gate)
        {
            while (_pending != 0)
            {
                Monitor.Wait(_gate);
            }
        }

        if (Volatile.Read(ref _error) is { } error)
        {
            throw new InvalidOperationException($"Writing a received extent into guest memory failed: {error.Message}", error);
        }
    }

    /// <summary>Lets the threads finish what they were given and waits for them.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.PulseAll(_gate);
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }
    }

    private void Run()
    {
        while (true)
        {
            (GuestMemoryAccess Memory, long Offset, byte[] Data) job;
            lock (_gate)
            {
                while (_jobs.Count == 0 && !_completed)
                {
                    Monitor.Wait(_gate);
                }

                if (!_jobs.TryDequeue(out job))
                {
                    return;
                }
            }

            try
            {
                job.Data.CopyTo(job.Memory.Span(job.Offset, ExtentBytes));
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _error, ex, null);
            }
            finally
            {
                lock (_gate)
                {
                    _free.Push(job.Data);
                    _pending--;
                    Monitor.PulseAll(_gate);
                }
            }
        }
    }
}
