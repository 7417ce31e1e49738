namespace VmConsole.Migration.Wire;

/// <summary>
/// QEMU's XBZRLE page delta (migration/xbzrle.c, ram.c <c>load_xbzrle</c>): after the RAM record's flag <c>0x40</c>,
/// byte <c>0x01</c> (ENCODING_FLAG_XBZRLE), be16 length (at most one target page), then pairs of (unchanged run length,
/// changed run length and its bytes) against the page the destination holds, lengths in ULEB128 of one or two bytes,
/// the trailing unchanged run left out. A sender and a receiver share this format.
/// </summary>
public static partial class Xbzrle
{
    /// <summary>The byte that follows the record's address word (ENCODING_FLAG_XBZRLE).</summary>
    public const byte EncodingFlag = 0x01;

    /// <summary>The header after the address word: the encoding byte and the be16 length.</summary>
    public const int HeaderLength = 3;

    /// <summary>Largest delta: one target page (QEMU's "len overflow" above it).</summary>
    public const int MaxLength = QemuFormat.TargetPageSize;

    /// <summary>
    /// Applies <paramref name="delta"/> to <paramref name="page"/> in place, as QEMU's <c>xbzrle_decode_buffer</c>
    /// does; false where QEMU returns -1 (a run past the page or the delta, a zero-length changed run, a zero unchanged
    /// run after the first, a length over 14 bits). The page may have been changed in part when it returns false.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> delta, Span<byte> page)
    {
        var i = 0;
        var d = 0;
        while (i < delta.Length)
        {
            // The unchanged run: only the first may be zero.
            if (delta.Length - i < 2)
            {
                return false;
            }

            var read = TryReadLength(delta[i..], out var count);
            if (read < 0 || (i != 0 && count == 0))
            {
                return false;
            }

            i += read;
            d += count;
            if (d > page.Length || delta.Length - i < 2)
            {
                return false;
            }

            // The changed run and its bytes.
            read = TryReadLength(delta[i..], out count);
            if (read < 0 || count == 0)
            {
                return false;
            }

            i += read;
            if (d + count > page.Length || i + count > delta.Length)
            {
                return false;
            }

            delta.Slice(i, count).CopyTo(page[d..]);
            d += count;
            i += count;
        }

        return true;
    }

    /// <summary>QEMU's <c>uleb128_decode_small</c>: one byte below 0x80, else two (14 bits); -1 when a third would follow.</summary>
    private static int TryReadLength(ReadOnlySpan<byte> input, out int value)
    {
        if ((input[0] & 0x80) == 0)
        {
            value = input[0];
            return 1;
        }

        value = input[0] & 0x7F;
        if ((input[1] & 0x80) != 0)
        {
            return -1;
        }

        value |= input[1] << 7;
        return 2;
    }
}
