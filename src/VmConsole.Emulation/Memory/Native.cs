using System.Runtime.InteropServices;

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

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial IntPtr Mmap(IntPtr address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(IntPtr address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(IntPtr address, nuint length, int advice);
}
