using System.Buffers;
using System.Collections.Concurrent;

namespace VmConsole.Migration.Transports;

/// <summary>
/// Fixed-size buffers for the migration pipes, shared by every migration of the process and kept up to a bound.
/// </summary>
/// <remarks>
/// The pipes' default, <see cref="ArrayPool{T}.Shared"/>, keeps only a few arrays of a size per core: an in-process
/// pipe with megabytes in flight returned more than it kept, and the sender allocated afresh (about 14 MB per GiB
/// sent, measured by the micro benchmark). Here every returned buffer is kept until <c>maxRetained</c> are idle, so a
/// steady migration allocates nothing after its first window, and what the pool holds stays bounded.
/// Thread-safe: a pipe's writer rents on the sender's thread and its reader returns on the receiver's.
/// </remarks>
internal sealed class PipeBufferPool : MemoryPool<byte>
{
    /// <summary>
    /// 64 KiB segments of the in-process pipe. Its 8 MiB window is 128 of them; two windows are kept, because when the
    /// reader consumes a burst the pipe may wake the writer before the burst's segments are back, and the writer then
    /// rents up to a window more (at most 16 MiB idle).
    /// </summary>
    public static readonly PipeBufferPool Segments = new(64 << 10, maxRetained: 256);

    /// <summary>1 MiB buffers of the socket and file ends.</summary>
    public static readonly PipeBufferPool Large = new(1 << 20, maxRetained: 16);

    private readonly int _blockSize;
    private readonly int _maxRetained;

    /// <summary>Returned leases with their buffers, ready to hand out again: nothing is allocated per rent once warm.</summary>
    private readonly ConcurrentQueue<Lease> _idle = new();

    // Changed with Interlocked by renters and returners: how many leases _idle holds (or is about to).
    private int _idleCount;

    // Incremented with Interlocked by renters that found no idle lease.
    private long _created;

    public PipeBufferPool(int blockSize, int maxRetained)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetained);
        _blockSize = blockSize;
        _maxRetained = maxRetained;
    }

    public override int MaxBufferSize => _blockSize;

    /// <summary>Buffers of a block's size allocated so far (for tests: a warm pool allocates none).</summary>
    public long Created => Interlocked.Read(ref _created);

    /// <summary>Buffers kept for reuse now (for tests).</summary>
    public int IdleCount => Volatile.Read(ref _idleCount);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > _blockSize)
        {
            // Larger than a block: not pooled (the pipes never ask for this; MaxBufferSize tells them).
            return new Lease(null, GC.AllocateUninitializedArray<byte>(minBufferSize));
        }

        if (_idle.TryDequeue(out var lease))
        {
            Interlocked.Decrement(ref _idleCount);
            lease.Reopen();
            return lease;
        }

        Interlocked.Increment(ref _created);
        return new Lease(this, GC.AllocateUninitializedArray<byte>(_blockSize));
    }

    protected override void Dispose(bool disposing)
    {
    }

    private void Return(Lease lease)
    {
        if (Interlocked.Increment(ref _idleCount) <= _maxRetained)
        {
            _idle.Enqueue(lease);
        }
        else
        {
            Interlocked.Decrement(ref _idleCount);
        }
    }

    /// <summary>A buffer and its owner object, reused together.</summary>
    private sealed class Lease(PipeBufferPool? pool, byte[] buffer) : IMemoryOwner<byte>
    {
        // 1 while rented. Dispose swaps it to 0 and only the swap that won returns the lease (a pipe disposes each
        // segment's owner once; a second Dispose is ignored, and Memory throws after the first).
        private int _rented = 1;

        public Memory<byte> Memory => Volatile.Read(ref _rented) == 1 ? buffer : throw new ObjectDisposedException(nameof(Lease));

        public void Reopen() => Volatile.Write(ref _rented, 1);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _rented, 0) == 1)
            {
                pool?.Return(this);
            }
        }
    }
}
