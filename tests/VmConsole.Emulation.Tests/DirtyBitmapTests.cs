using System.Buffers.Binary;
using System.Diagnostics;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Memory;

namespace VmConsole.Emulation.Tests;

public sealed class DirtyBitmapTests
{
    private static readonly TimeSpan JoinWithin = TimeSpan.FromSeconds(45);

    private static List<long> SetPages(DirtyBitmap bitmap) =>
        [.. Enumerable.Range(0, (int)bitmap.PageCount).Select(p => (long)p).Where(bitmap.IsSet)];

    private static List<long> Pages(ulong[] words, long pageCount) =>
        [.. Enumerable.Range(0, (int)pageCount).Select(p => (long)p).Where(p => (words[p >> 6] & (1UL << (int)(p & 63))) != 0)];

    private static IEnumerable<long> Range(long first, long count) => Enumerable.Range((int)first, (int)count).Select(p => (long)p);

    [Fact]
    public void New_AnySize_NothingSet()
    {
        var bitmap = new DirtyBitmap(130);

        Assert.Equal(130, bitmap.PageCount);
        Assert.Equal(0, bitmap.CountSet());
        Assert.Empty(SetPages(bitmap));
    }

    [Fact]
    public void New_NegativePageCount_Throws() => Assert.Throws<ArgumentOutOfRangeException>(() => new DirtyBitmap(-1));

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(64, 1)]
    [InlineData(65, 2)]
    [InlineData(128, 2)]
    [InlineData(129, 3)]
    public void WordsFor_PageCount_RoundsUpToWholeWords(long pages, int words) => Assert.Equal(words, DirtyBitmap.WordsFor(pages));

    [Theory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(99)]
    public void Set_OnePage_OnlyThatPageSet(long page)
    {
        var bitmap = new DirtyBitmap(100);

        bitmap.Set(page);
        bitmap.Set(page);

        Assert.Equal([page], SetPages(bitmap));
        Assert.Equal(1, bitmap.CountSet());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(100)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void SetOrIsSet_PageOutOfRange_Throws(long page)
    {
        var bitmap = new DirtyBitmap(100);

        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap.Set(page));
        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap.IsSet(page));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(0, 64)]
    [InlineData(60, 10)] // spans a word boundary
    [InlineData(3, 190)] // partial, two whole words, partial
    [InlineData(64, 64)] // exactly one word
    [InlineData(128, 72)] // the last, partial word to the very end
    [InlineData(0, 200)] // everything
    [InlineData(199, 1)] // the last page
    public void SetRange_Range_ExactlyThosePagesSet(long first, long count)
    {
        var bitmap = new DirtyBitmap(200);

        bitmap.SetRange(first, count);

        Assert.Equal(Range(first, count), SetPages(bitmap));
        Assert.Equal(count, bitmap.CountSet());
    }

    [Fact]
    public void SetRange_CountZero_NothingSetEvenAtEnd()
    {
        var bitmap = new DirtyBitmap(100);

        bitmap.SetRange(100, 0);
        bitmap.SetRange(5, 0);

        Assert.Equal(0, bitmap.CountSet());
    }

    [Theory]
    [InlineData(-1, 2)]
    [InlineData(99, 2)]
    [InlineData(100, 1)]
    [InlineData(0, 101)]
    [InlineData(10, -2)]
    [InlineData(0, long.MaxValue)]
    public void SetRange_OutOfRange_ThrowsAndSetsNothing(long first, long count)
    {
        var bitmap = new DirtyBitmap(100);

        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap.SetRange(first, count));

        Assert.Equal(0, bitmap.CountSet());
    }

    [Fact]
    public void SyncInto_SetPages_OrsIntoDestinationClearsSourceReturnsCount()
    {
        var bitmap = new DirtyBitmap(130);
        bitmap.Set(1);
        bitmap.Set(64);
        bitmap.Set(129);
        var destination = new ulong[DirtyBitmap.WordsFor(130)];
        destination[0] = 1UL << 5; // already dirty from an earlier round: kept

        var taken = bitmap.SyncInto(destination);

        Assert.Equal(3, taken);
        Assert.Equal([1L, 5, 64, 129], Pages(destination, 130));
        Assert.Equal(0, bitmap.CountSet());
        Assert.Equal(0, bitmap.SyncInto(destination));
    }

    [Fact]
    public void SyncInto_DestinationTooSmall_ArgumentExceptionAndNothingTaken()
    {
        var bitmap = new DirtyBitmap(130);
        bitmap.Set(129);

        Assert.Throws<ArgumentException>(() => bitmap.SyncInto(new ulong[2]));

        Assert.True(bitmap.IsSet(129));
    }

    [Fact]
    public void SyncInto_LargerDestination_Accepted()
    {
        var bitmap = new DirtyBitmap(10);
        bitmap.Set(9);
        var destination = new ulong[4];

        Assert.Equal(1, bitmap.SyncInto(destination));

        Assert.Equal(1UL << 9, destination[0]);
    }

    [Fact]
    public void SyncAndCount_SetPages_CountsAndClears()
    {
        var bitmap = new DirtyBitmap(300);
        bitmap.SetRange(10, 100);

        Assert.Equal(100, bitmap.SyncAndCount());
        Assert.Equal(0, bitmap.CountSet());
        Assert.Equal(0, bitmap.SyncAndCount());
    }

    [Fact]
    public void SetOnceAndSync_WritersSharingWordsRacingASyncer_EveryBitTakenExactlyOnce()
    {
        // Each page is set exactly once per round, by one of four writers whose pages interleave within every
        // word, while a syncer takes bits as fast as it can. A lost bit (a set racing another set or a take) is
        // never set again that round, so the syncs of a round must hold exactly every page, each counted once.
        // Small bitmaps and many rounds keep the threads inside the same few words at the same moment.
        const int writers = 4;
        const int rounds = 1_000;
        const long pages = 64 * 4;
        var bitmap = new DirtyBitmap(pages);
        var taken = new ulong[DirtyBitmap.WordsFor(pages)];
        var scratch = new ulong[DirtyBitmap.WordsFor(pages)];
        var syncsWithBits = 0;
        for (var round = 0; round < rounds; round++)
        {
            Array.Clear(taken);
            long counted = 0;
            var stop = 0;
            using var go = new Barrier(writers + 1);
            var writerThreads = Enumerable.Range(0, writers).Select(w => new Thread(() =>
            {
                go.SignalAndWait();
                for (var page = (long)w; page < pages; page += writers)
                {
                    bitmap.Set(page);
                }
            })).ToList();
            var syncer = new Thread(() =>
            {
                go.SignalAndWait();
                do
                {
                    Array.Clear(scratch);
                    var got = bitmap.SyncInto(scratch);
                    counted += got;
                    syncsWithBits += got > 0 ? 1 : 0;
                    for (var i = 0; i < scratch.Length; i++)
                    {
                        Assert.Equal(0UL, taken[i] & scratch[i]);
                        taken[i] |= scratch[i];
                    }
                }
                while (Volatile.Read(ref stop) == 0);
            });

            syncer.Start();
            writerThreads.ForEach(t => t.Start());
            Assert.All(writerThreads, t => Assert.True(t.Join(JoinWithin)));
            Volatile.Write(ref stop, 1);
            Assert.True(syncer.Join(JoinWithin));
            Array.Clear(scratch);
            counted += bitmap.SyncInto(scratch);
            for (var i = 0; i < scratch.Length; i++)
            {
                taken[i] |= scratch[i];
            }

            Assert.Equal(pages, counted);
            Assert.All(taken, word => Assert.Equal(ulong.MaxValue, word));
        }

        Assert.True(syncsWithBits > rounds / 10, $"The syncer took bits mid-round in only {syncsWithBits} syncs: it hardly raced the writers.");
    }

    [Fact]
    public void SetAndSync_ManyWritersOneSyncer_NoBitLost()
    {
        const int writers = 3;
        const long pages = 64 * 64;
        var bitmap = new DirtyBitmap(pages);
        var accumulated = new ulong[DirtyBitmap.WordsFor(pages)];
        var written = new bool[pages];
        var stop = 0;
        var syncs = 0;

        // Writer w owns the pages with page % writers == w, and sets each of a known subset of them, over and over.
        var writerThreads = Enumerable.Range(0, writers).Select(w => new Thread(() =>
        {
            var mine = Range(0, pages).Where(p => p % writers == w && (p / writers) % 5 != 0).ToArray();
            foreach (var page in mine)
            {
                written[page] = true;
            }

            for (var round = 0; round < 200; round++)
            {
                foreach (var page in mine)
                {
                    bitmap.Set(page);
                }
            }
        })).ToList();
        var syncer = new Thread(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                bitmap.SyncInto(accumulated);
                syncs++;
            }
        });

        syncer.Start();
        writerThreads.ForEach(t => t.Start());
        Assert.All(writerThreads, t => Assert.True(t.Join(JoinWithin)));
        Volatile.Write(ref stop, 1);
        Assert.True(syncer.Join(JoinWithin));
        bitmap.SyncInto(accumulated);

        Assert.True(syncs > 1, "The syncer never raced the writers.");
        Assert.Equal(Range(0, pages).Where(p => written[p]), Pages(accumulated, pages));
        Assert.Equal(0, bitmap.CountSet());
    }

    [Fact]
    public void RamBlockWriteAndSync_WriterAndSyncerRace_FinalValueOfEveryPageObserved()
    {
        const long pages = 256;
        var block = new RamBlock(1, "race", null, 0, 4096, pages * 4096, pages * 4096, RamBlockFlags.Migratable);
        var seen = new long[pages];
        var finalValue = new long[pages];
        var stop = 0;
        var syncs = 0;

        void Take()
        {
            // As a migration pass does: take the bits first, then read the pages they name.
            var words = new ulong[DirtyBitmap.WordsFor(pages)];
            block.DirtyLog.SyncInto(words);
            var value = new byte[8];
            foreach (var page in Pages(words, pages))
            {
                block.Read(page * 4096, value);
                seen[page] = BinaryPrimitives.ReadInt64LittleEndian(value);
            }
        }

        var writer = new Thread(() =>
        {
            var random = new Random(3);
            var value = new byte[8];
            var clock = Stopwatch.StartNew();
            // Half a second, and longer on a machine that starves the syncer until it has raced the writer enough.
            for (long n = 1; clock.ElapsedMilliseconds < 500 || (Volatile.Read(ref syncs) <= 10 && clock.Elapsed < TimeSpan.FromSeconds(30)); n++)
            {
                var page = random.NextInt64(pages);
                BinaryPrimitives.WriteInt64LittleEndian(value, n);
                block.Write(page * 4096, value);
                finalValue[page] = n;
            }
        });
        var syncer = new Thread(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                Take();
                Interlocked.Increment(ref syncs);
            }
        });

        syncer.Start();
        writer.Start();
        Assert.True(writer.Join(JoinWithin));
        Volatile.Write(ref stop, 1);
        Assert.True(syncer.Join(JoinWithin));
        Take();

        Assert.True(syncs > 10, $"Only {syncs} syncs raced the writer.");
        Assert.Equal(finalValue, seen);
        Assert.Contains(finalValue, v => v != 0);
    }
}
