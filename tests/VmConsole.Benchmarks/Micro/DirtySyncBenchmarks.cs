using BenchmarkDotNet.Attributes;
using VmConsole.Emulation.Memory;

namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// <see cref="DirtyBitmap.SyncInto"/> of a 1 GiB block's dirty log (262,144 pages, 4,096 words) into a send bitmap, as
/// PrecopySender.Sync does after each pass. A sync clears what it takes, so each iteration first dirties
/// <see cref="Blocks"/> bitmaps again (outside the timing) and one invocation syncs them all: a figure is per GiB.
/// </summary>
public class DirtySyncBenchmarks
{
    /// <summary>Bitmaps synced per invocation: 32 GiB of guest memory, 1 MiB of dirty logs.</summary>
    public const int Blocks = 32;

    private readonly DirtyBitmap[] _logs = new DirtyBitmap[Blocks];
    private readonly ulong[][] _send = new ulong[Blocks][];
    private long[] _sparsePages = [];

    [GlobalSetup]
    public void Setup()
    {
        for (var i = 0; i < Blocks; i++)
        {
            _logs[i] = new DirtyBitmap(MicroSizes.PagesPerGiB);
            _send[i] = new ulong[DirtyBitmap.WordsFor(MicroSizes.PagesPerGiB)];
        }

        // 1% of the pages, spread at random (deterministic): about half the words have a bit set.
        var random = new Random(3);
        _sparsePages = [.. Enumerable.Range(0, (int)MicroSizes.PagesPerGiB).Where(_ => random.Next(100) == 0).Select(p => (long)p)];
    }

    [IterationSetup(Target = nameof(SyncFullyDirty))]
    public void DirtyAll()
    {
        foreach (var log in _logs)
        {
            log.SetRange(0, MicroSizes.PagesPerGiB);
        }
    }

    [IterationSetup(Target = nameof(SyncOnePercentDirty))]
    public void DirtyOnePercent()
    {
        foreach (var log in _logs)
        {
            foreach (var page in _sparsePages)
            {
                log.Set(page);
            }
        }
    }

    [Benchmark(OperationsPerInvoke = Blocks)]
    public long SyncFullyDirty() => SyncAll(MicroSizes.PagesPerGiB);

    [Benchmark(OperationsPerInvoke = Blocks)]
    public long SyncOnePercentDirty() => SyncAll(_sparsePages.Length);

    /// <summary>Nothing written since the last sync: the cost of looking.</summary>
    [Benchmark(OperationsPerInvoke = Blocks)]
    public long SyncClean() => SyncAll(0);

    private long SyncAll(long expectedPerBlock)
    {
        long taken = 0;
        for (var i = 0; i < Blocks; i++)
        {
            taken += _logs[i].SyncInto(_send[i]);
        }

        return taken == expectedPerBlock * Blocks
            ? taken
            : throw new InvalidOperationException($"Synced {taken} dirty pages; {expectedPerBlock * Blocks} were set.");
    }
}
