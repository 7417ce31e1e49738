using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using VmConsole.Emulation.Memory;

namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// The sender's zero-page check (PrecopySender.SendWord: <c>memory.Span(offset, 4096)</c> then
/// <c>!ContainsAnyExcept((byte)0)</c>, page by page) against the fastest read of the same memory: a vectorised OR over
/// every byte. The memory is all zero but written (backed by real pages) and far larger than the last-level cache.
/// </summary>
public class ZeroScanBenchmarks
{
    private GuestMemory _memory = null!;

    [GlobalSetup]
    public void Setup()
    {
        _memory = new GuestMemory(MicroSizes.ScanBytes);
        using var access = _memory.Acquire();
        GuestFill.TouchZero(access.Span(0, MicroSizes.ScanBytes));
        if (ZeroScan() != MicroSizes.ScanBytes / MicroSizes.PageSize || RawRead() != 0)
        {
            throw new InvalidOperationException("The scanned memory is not all zero.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _memory.Dispose();

    /// <summary>Zero pages found, as the engine checks each page.</summary>
    [Benchmark]
    public long ZeroScan()
    {
        using var access = _memory.Acquire();
        long zeroPages = 0;
        for (long offset = 0; offset < MicroSizes.ScanBytes; offset += MicroSizes.PageSize)
        {
            var data = access.Span(offset, MicroSizes.PageSize);
            if (!data.ContainsAnyExcept((byte)0))
            {
                zeroPages++;
            }
        }

        return zeroPages;
    }

    /// <summary>OR of every byte, four Vector256 accumulators wide: memory bandwidth for a read.</summary>
    [Benchmark]
    public int RawRead()
    {
        using var access = _memory.Acquire();
        var vectors = MemoryMarshal.Cast<byte, Vector256<byte>>(access.Span(0, MicroSizes.ScanBytes));
        Vector256<byte> a = default, b = default, c = default, d = default;
        var i = 0;
        for (; i + 4 <= vectors.Length; i += 4)
        {
            a |= vectors[i];
            b |= vectors[i + 1];
            c |= vectors[i + 2];
            d |= vectors[i + 3];
        }

        for (; i < vectors.Length; i++)
        {
            a |= vectors[i];
        }

        return (a | b | c | d) == Vector256<byte>.Zero ? 0 : 1;
    }
}
