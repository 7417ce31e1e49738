using System.Numerics;

namespace VmConsole.Migration.Wire;

/// <summary>The sender's half of <see cref="Xbzrle"/>: a page's delta against the page the destination holds.</summary>
public static partial class Xbzrle
{
    /// <summary>
    /// Unchanged runs shorter than this inside a change are sent as changed bytes: a separate pair would cost a length
    /// byte for the unchanged run and another for the changed run that follows, no less than the bytes themselves. It
    /// also keeps every unchanged run after the first non-zero, as the decoder requires.
    /// </summary>
    public const int MinUnchangedRun = 3;

    /// <summary>Longest run a one- or two-byte ULEB128 length can carry (14 bits).</summary>
    private const int MaxRunLength = (1 << 14) - 1;

    /// <summary>
    /// Encodes <paramref name="current"/> as a delta against <paramref name="old"/> into <paramref name="output"/>, as
    /// QEMU's <c>xbzrle_encode_buffer</c> does: 0 when the two are equal (nothing to send), -1 when the delta would not
    /// fit in <paramref name="output"/> (QEMU's overflow: the page goes whole), else the delta's length. The trailing
    /// unchanged run is left out; the first unchanged run may be 0. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentException">The pages differ in length, or are longer than a 14-bit run.</exception>
    public static int Encode(ReadOnlySpan<byte> old, ReadOnlySpan<byte> current, Span<byte> output)
    {
        if (old.Length != current.Length)
        {
            throw new ArgumentException($"The old page has {old.Length} bytes and the current one {current.Length}.", nameof(current));
        }

        if (current.Length > MaxRunLength)
        {
            throw new ArgumentException($"A page of at most {MaxRunLength} bytes, not {current.Length}.", nameof(current));
        }

        var length = current.Length;
        var d = 0;
        var i = 0;
        while (true)
        {
            var unchanged = old[i..].CommonPrefixLength(current[i..]);
            var start = i + unchanged;
            if (start == length)
            {
                return d;
            }

            var end = ChangedRunEnd(old, current, start);
            var changed = end - start;
            var needed = LengthSize(unchanged) + LengthSize(changed) + changed;
            if (d + needed > output.Length)
            {
                return -1;
            }

            d += WriteLength(output[d..], unchanged);
            d += WriteLength(output[d..], changed);
            current[start..end].CopyTo(output[d..]);
            d += changed;
            i = end;
        }
    }

    /// <summary>
    /// Where the changed run that starts at <paramref name="start"/> ends: at the first unchanged run of at least
    /// <see cref="MinUnchangedRun"/> bytes, or at a trailing unchanged run of any length, or at the page's end.
    /// </summary>
    private static int ChangedRunEnd(ReadOnlySpan<byte> old, ReadOnlySpan<byte> current, int start)
    {
        var j = start;
        while (true)
        {
            j += FirstEqual(old[j..], current[j..]);
            if (j == current.Length)
            {
                return j;
            }

            var gap = old[j..].CommonPrefixLength(current[j..]);
            if (gap >= MinUnchangedRun || j + gap == current.Length)
            {
                return j;
            }

            j += gap;
        }
    }

    /// <summary>The index of the first byte equal in both spans (of one length), or their length: a vector at a time.</summary>
    private static int FirstEqual(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<byte>.Count;
            while (k + width <= a.Length && !Vector.EqualsAny(new Vector<byte>(a[k..]), new Vector<byte>(b[k..])))
            {
                k += width;
            }
        }

        while (k < a.Length && a[k] != b[k])
        {
            k++;
        }

        return k;
    }

    private static int LengthSize(int value) => value < 0x80 ? 1 : 2;

    /// <summary>QEMU's <c>uleb128_encode_small</c>: seven bits a byte, high bit set on all but the last (two at most here).</summary>
    private static int WriteLength(Span<byte> output, int value)
    {
        if (value < 0x80)
        {
            output[0] = (byte)value;
            return 1;
        }

        output[0] = (byte)(value | 0x80);
        output[1] = (byte)(value >> 7);
        return 2;
    }
}
