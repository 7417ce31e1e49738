using System.Runtime.InteropServices;

namespace VmConsole.Emulation.Memory;

/// <summary>
/// The bytes behind one RAMBlock: a private anonymous mapping of <see cref="Size"/> bytes reserved with
/// MAP_NORESERVE, so untouched pages read as zero and cost no physical memory, as QEMU's own RAM does.
/// </summary>
/// <remarks>
/// The mapping's lifetime is a <see cref="SafeHandle"/> reference count: every access goes through a
/// <see cref="GuestMemoryAccess"/> that holds a reference, so <see cref="Dispose"/> unmaps only after the
/// last reader (a workload, a migration worker) has let go. An access after dispose throws
/// <see cref="ObjectDisposedException"/>; it never touches freed memory.
/// Guest bytes themselves are unsynchronised, like real guest RAM: concurrent writers race as vCPUs do.
/// </remarks>
public sealed unsafe class GuestMemory : IDisposable
{
    private readonly MappingHandle _handle;

    // Set once by Dispose (any thread). The handle alone cannot tell: it reports closed only when the last
    // outstanding access lets go, and until then it would hand out new references.
    private volatile bool _disposed;

    public GuestMemory(long size)
    {
        if (size <= 0 || size % Environment.SystemPageSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "Guest memory must be a positive multiple of the host page size.");
        }

        Size = size;
        _handle = MappingHandle.Map(size);
    }

    /// <summary>Bytes reserved (the block's max_length).</summary>
    public long Size { get; }

    public bool IsDisposed => _disposed;

    /// <summary>Takes a reference that keeps the mapping alive until the access is disposed.</summary>
    public GuestMemoryAccess Acquire()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new(this, _handle);
    }

    public void Read(long offset, Span<byte> destination)
    {
        using var access = Acquire();
        access.Span(offset, destination.Length).CopyTo(destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        using var access = Acquire();
        source.CopyTo(access.Span(offset, source.Length));
    }

    /// <summary>
    /// Drops the pages of a range: they read as zero again and give their physical memory back
    /// (madvise MADV_DONTNEED on a private anonymous mapping).
    /// </summary>
    public void Discard(long offset, long length)
    {
        var pageSize = Environment.SystemPageSize;
        if (offset % pageSize != 0 || length % pageSize != 0)
        {
            throw new ArgumentException($"Discard needs whole host pages of {pageSize} bytes.", nameof(offset));
        }

        using var access = Acquire();
        access.CheckRange(offset, length);
        if (length > 0 && !Native.Advise(access.Pointer + offset, length))
        {
            ClearSlow(access, offset, length);
        }
    }

    private static void ClearSlow(GuestMemoryAccess access, long offset, long length)
    {
        while (length > 0)
        {
            var chunk = (int)Math.Min(length, 1 << 20);
            access.Span(offset, chunk).Clear();
            offset += chunk;
            length -= chunk;
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _handle.Dispose();
    }

    internal sealed class MappingHandle : SafeHandle
    {
        private long _size;

        private MappingHandle() : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        public override bool IsInvalid => handle == IntPtr.Zero;

        public static MappingHandle Map(long size)
        {
            var mapped = new MappingHandle { _size = size };
            mapped.SetHandle(Native.Map(size));
            return mapped;
        }

        protected override bool ReleaseHandle()
        {
            Native.Unmap(handle, _size);
            return true;
        }
    }
}
