using System.Runtime.InteropServices;

namespace VmConsole.Emulation.Memory;

/// <summary>A counted reference to a <see cref="GuestMemory"/> mapping; dispose it to let the mapping go.</summary>
public readonly unsafe struct GuestMemoryAccess : IDisposable
{
    private readonly SafeHandle _handle;
    private readonly long _size;

    internal GuestMemoryAccess(GuestMemory memory, SafeHandle handle)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, memory);
        var added = false;
        handle.DangerousAddRef(ref added);
        _handle = handle;
        _size = memory.Size;
        Pointer = (byte*)handle.DangerousGetHandle();
    }

    internal byte* Pointer { get; }

    /// <summary>A writable view of <paramref name="length"/> bytes at <paramref name="offset"/>.</summary>
    public Span<byte> Span(long offset, int length)
    {
        CheckRange(offset, length);
        return new Span<byte>(Pointer + offset, length);
    }

    /// <summary>
    /// Marks in <paramref name="untouched"/> (bit i for page i) which of the <paramref name="pageCount"/> 4 KiB pages from
    /// <paramref name="offset"/> were never written (or were discarded): they read as zero and are not backed by physical
    /// memory, so a reader can know they are zero without touching them (which would fault each one in). False when this
    /// cannot be told here (not Linux, no /proc/self/pagemap, host pages other than 4 KiB): then read the bytes.
    /// </summary>
    /// <remarks>
    /// A snapshot: a page written after this call may still be marked. Whoever relies on it must learn of later writes
    /// otherwise (a migration does, from the dirty log it synced before calling this).
    /// </remarks>
    public bool TryGetUntouched(long offset, int pageCount, Span<ulong> untouched)
    {
        const int PageSize = 4096;
        if (Environment.SystemPageSize != PageSize || offset % PageSize != 0)
        {
            return false;
        }

        CheckRange(offset, (long)pageCount * PageSize);
        if (untouched.Length < (pageCount + 63) / 64)
        {
            throw new ArgumentException($"{pageCount} pages need {(pageCount + 63) / 64} words.", nameof(untouched));
        }

        return Native.TryReadUntouched(Pointer + offset, pageCount, untouched);
    }

    internal void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > _size - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"Range [{offset}, +{length}) is outside guest memory of {_size} bytes.");
        }
    }

    public void Dispose() => _handle?.DangerousRelease();
}
