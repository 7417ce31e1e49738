using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VmConsole.Emulation.Memory;

/// <summary>Anonymous memory from the kernel: lazily backed on Linux, zeroed heap memory elsewhere.</summary>
internal static unsafe partial class Native
{
    private const int ProtRead = 0x1;
    private const int ProtWrite = 0x2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;
    private const int MapNoReserve = 0x4000;
    private const int MadvDontNeed = 4;
    private const int MadvNoHugePage = 15;

    public static IntPtr Map(long size)
    {
        if (!OperatingSystem.IsLinux())
        {
            return (IntPtr)NativeMemory.AllocZeroed((nuint)size);
        }

        var address = Mmap(IntPtr.Zero, (nuint)size, ProtRead | ProtWrite, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
        if (address == new IntPtr(-1))
        {
            throw new OutOfMemoryException($"mmap of {size} bytes of guest memory failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        // Where transparent huge pages are "always", one write would back a whole 2 MiB around it: untouched pages
        // would cost memory. Guest memory stays in 4 KiB pages (a no-op where THP is "madvise" or "never").
        _ = Madvise(address, (nuint)size, MadvNoHugePage);
        return address;
    }

    public static void Unmap(IntPtr address, long size)
    {
        if (OperatingSystem.IsLinux())
        {
            _ = Munmap(address, (nuint)size);
        }
        else
        {
            NativeMemory.Free((void*)address);
        }
    }

    /// <summary>Gives pages back to the kernel; they read as zero afterwards. False where not supported.</summary>
    public static bool Advise(byte* address, long length) =>
        OperatingSystem.IsLinux() && Madvise((IntPtr)address, (nuint)length, MadvDontNeed) == 0;

    /// <summary>/proc/self/pagemap, opened once; null where there is none (not Linux, or not readable).</summary>
    private static readonly Lazy<SafeFileHandle?> PageMap = new(OpenPageMap);

    /// <summary>
    /// For each of <paramref name="count"/> host pages from <paramref name="address"/>: whether it was never backed (no page
    /// table entry, not in swap), so that a private anonymous mapping reads it as zero. Bit i of
    /// <paramref name="untouched"/> is page i. False when the kernel cannot tell (then <paramref name="untouched"/> is
    /// unchanged).
    /// </summary>
    public static bool TryReadUntouched(byte* address, int count, Span<ulong> untouched)
    {
        const ulong PresentOrSwapped = 3UL << 62;
        var handle = PageMap.Value;
        if (handle is null)
        {
            return false;
        }

        Span<ulong> entries = stackalloc ulong[256];
        var pageSize = Environment.SystemPageSize;
        var firstPage = (long)((nuint)address / (nuint)pageSize);
        for (var done = 0; done < count;)
        {
            var batch = entries[..Math.Min(entries.Length, count - done)];
            var bytes = MemoryMarshal.AsBytes(batch);
            int read;
            try
            {
                read = RandomAccess.Read(handle, bytes, (firstPage + done) * sizeof(ulong));
            }
            catch (IOException)
            {
                return false;
            }

            if (read != bytes.Length)
            {
                return false;
            }

            for (var i = 0; i < batch.Length; i++, done++)
            {
                var mask = 1UL << (done & 63);
                untouched[done >> 6] = (batch[i] & PresentOrSwapped) == 0 ? untouched[done >> 6] | mask : untouched[done >> 6] & ~mask;
            }
        }

        return true;
    }

    private static SafeFileHandle? OpenPageMap()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            return File.OpenHandle("/proc/self/pagemap", FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial IntPtr Mmap(IntPtr address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(IntPtr address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(IntPtr address, nuint length, int advice);
}
