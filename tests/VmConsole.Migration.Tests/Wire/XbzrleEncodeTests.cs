using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Wire;

/// <summary><see cref="Xbzrle.Encode"/>: QEMU's format and results, and what the decoder (QEMU's rules) makes of its deltas.</summary>
public sealed class XbzrleEncodeTests
{
    private const int PageSize = QemuFormat.TargetPageSize;

    [Fact]
    public void Encode_EqualPages_ZeroAndNothingWritten()
    {
        var old = Random(1);
        var output = new byte[PageSize];
        output.AsSpan().Fill(0xEE);

        Assert.Equal(0, Xbzrle.Encode(old, old.ToArray(), output));
        Assert.All(output, b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void Encode_FirstByteChanged_ZeroUnchangedRunThenOneByteAndNoTrailingRun()
    {
        var old = new byte[PageSize];
        var current = old.ToArray();
        current[0] = 0x5A;
        var output = new byte[PageSize];

        var length = Xbzrle.Encode(old, current, output);

        Assert.Equal([0, 1, 0x5A], output[..length]);
    }

    [Fact]
    public void Encode_TwoChangesTwoBytesApart_OneChangedRunOverTheGap()
    {
        var old = new byte[PageSize];
        var current = old.ToArray();
        current[200] = 1;
        current[203] = 2;
        var output = new byte[PageSize];

        var length = Xbzrle.Encode(old, current, output);

        // 200 in two-byte ULEB128, then 4 bytes: the two equal bytes between ride along in the changed run.
        Assert.Equal([0x80 | (200 & 0x7F), 200 >> 7, 4, 1, 0, 0, 2], output[..length]);
    }

    [Fact]
    public void Encode_TwoChangesThreeBytesApart_TwoPairs()
    {
        var old = new byte[PageSize];
        var current = old.ToArray();
        current[5] = 1;
        current[9] = 2;
        var output = new byte[PageSize];

        var length = Xbzrle.Encode(old, current, output);

        Assert.Equal([5, 1, 1, 3, 1, 2], output[..length]);
    }

    [Fact]
    public void Encode_EveryByteChanged_OverflowMinusOne()
    {
        var old = new byte[PageSize];
        var current = Random(2);
        current.AsSpan().Replace((byte)0, (byte)1);

        Assert.Equal(-1, Xbzrle.Encode(old, current, new byte[PageSize]));
        Assert.Equal(PageSize + 3, Xbzrle.Encode(old, current, new byte[2 * PageSize]));
    }

    [Fact]
    public void Encode_DeltaExactlyTheOutput_FitsAndOneByteLessOverflows()
    {
        var old = new byte[PageSize];
        var current = old.ToArray();
        current[7] = 9;

        Assert.Equal(3, Xbzrle.Encode(old, current, new byte[3]));
        Assert.Equal(-1, Xbzrle.Encode(old, current, new byte[2]));
    }

    [Fact]
    public void Encode_ThousandPages_AllocatesNothing()
    {
        var old = Random(3);
        var current = old.ToArray();
        var output = new byte[PageSize];
        Xbzrle.Encode(old, current, output);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            current[(i * 97) % PageSize]++;
            Xbzrle.Encode(old, current, output);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>
    /// Random pages with random sparse changes (a few long ones now and then): equal pages give 0; a delta that fits
    /// is one the decoder takes (QEMU's rules) and it turns the old page into the current one; -1 only when the delta
    /// is really longer than a page.
    /// </summary>
    [Property(MaxTest = 400)]
    public Property EncodeThenDecode_RandomSparseChanges_CurrentPageBack() =>
        Prop.ForAll(
            (from seed in Gen.Choose(0, int.MaxValue)
             from count in Gen.Choose(0, 80)
             from changes in Gen.ArrayOf(
                 from position in Gen.Choose(0, PageSize - 1)
                 from length in Gen.Frequency((8, Gen.Choose(1, 4)), (3, Gen.Choose(1, 40)), (1, Gen.Choose(1, PageSize)))
                 select (position, length),
                 count)
             select (seed, changes)).ToArbitrary(),
            input =>
            {
                var old = Random(input.seed);
                var current = old.ToArray();
                var random = new Random(input.seed ^ 0x5EED);
                foreach (var (position, length) in input.changes)
                {
                    random.NextBytes(current.AsSpan(position, Math.Min(length, PageSize - position)));
                }

                var output = new byte[PageSize];
                var encoded = Xbzrle.Encode(old, current, output);
                if (encoded == 0)
                {
                    return old.AsSpan().SequenceEqual(current).Label("0 for pages that differ");
                }

                if (encoded < 0)
                {
                    var unbounded = Xbzrle.Encode(old, current, new byte[4 * PageSize]);
                    return (unbounded > PageSize).Label($"-1, but the delta takes {unbounded} bytes");
                }

                var page = old.ToArray();
                var decoded = Xbzrle.TryDecode(output.AsSpan(0, encoded), page);
                return (decoded && page.AsSpan().SequenceEqual(current)).Label($"a delta of {encoded} bytes decoded {decoded}, to the page: {page.AsSpan().SequenceEqual(current)}");
            });

    private static byte[] Random(int seed)
    {
        var page = new byte[PageSize];
        new Random(seed).NextBytes(page);
        return page;
    }
}
