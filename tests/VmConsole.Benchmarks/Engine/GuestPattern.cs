using System.Runtime.InteropServices;

namespace VmConsole.Benchmarks.Engine;

/// <summary>
/// The guest memory of Macros A and B: half zero, half random, in alternating 2 MiB runs (run 0 zero, run 1 random,
/// run 2 zero, ...). 2 MiB runs are what a guest's memory looks like after its allocator handed out huge-page-sized
/// extents and left the rest untouched; the engine's per-page work is the same as with any other interleaving (every
/// page is checked and sent as a zero record or whole), and no run shares a 2 MiB-aligned extent with the other kind,
/// so the figures do not depend on transparent huge pages. The random bytes come from SplitMix64 seeded with
/// <see cref="Seed"/> and the run's index, so any run can be made alone, in any order, in memory or in a file.
/// </summary>
internal static class GuestPattern
{
    public const int RunBytes = 2 << 20;
    public const ulong Seed = 0x5EED_0007;

    public static bool IsRandomRun(long run) => (run & 1) == 1;

    /// <summary>Non-zero bytes in the first <paramref name="size"/> bytes (size a multiple of two runs).</summary>
    public static long NonZeroBytes(long size) => size / 2;

    /// <summary>Writes the random runs of the first <paramref name="length"/> bytes at <paramref name="memory"/>; zero runs are not touched.</summary>
    public static unsafe void Fill(byte* memory, long length)
    {
        for (long run = 0; run * RunBytes < length; run++)
        {
            if (IsRandomRun(run))
            {
                FillRun(new Span<byte>(memory + (run * RunBytes), RunBytes), run);
            }
        }
    }

    /// <summary>A file of <paramref name="size"/> bytes with the same content, zero runs written out too (every page exists).</summary>
    public static void WriteFile(string path, long size)
    {
        var buffer = new byte[RunBytes];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 20);
        for (long run = 0; run * RunBytes < size; run++)
        {
            if (IsRandomRun(run))
            {
                FillRun(buffer, run);
            }
            else
            {
                Array.Clear(buffer);
            }

            file.Write(buffer);
        }
    }

    private static void FillRun(Span<byte> run, long index)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(run);
        var state = Seed ^ ((ulong)index * 0x9E37_79B9_7F4A_7C15UL);
        for (var i = 0; i < words.Length; i++)
        {
            // SplitMix64 (Steele, Lea, Flood 2014).
            state += 0x9E37_79B9_7F4A_7C15UL;
            var z = state;
            z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
            words[i] = z ^ (z >> 31);
        }
    }
}
