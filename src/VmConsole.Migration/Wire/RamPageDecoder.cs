using System.Buffers;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Wire;

/// <summary>
/// The page records that carry a page in another form than raw bytes (ram.c <c>ram_load_precopy</c>): XBZRLE deltas
/// (decoded even when the destination was not told of the capability, as QEMU does) and <c>compress</c> pages (zlib).
/// Each becomes a whole page for the sink's <see cref="IMigrationStreamSink.OnPage"/>.
/// </summary>
/// <remarks>
/// The buffers are made once per stream, on the first such page; a page costs no allocation but, for a compressed
/// one, the inflater's. As in the RAM reader, a read that returns false has called no sink. Used only by the task
/// reading the stream.
/// </remarks>
internal sealed class RamPageDecoder(IMigrationStreamSink sink)
{
    private byte[]? _page;
    private byte[]? _data;
    private CompressedPage.SpanSource? _source;

    /// <summary>XBZRLE pages decoded.</summary>
    public long XbzrlePages { get; private set; }

    /// <summary>Compressed pages inflated.</summary>
    public long CompressedPages { get; private set; }

    /// <summary>An XBZRLE record's data, after its address word (and idstr).</summary>
    public bool TryReadXbzrle(ref SequenceReader<byte> reader, int block, long offset)
    {
        if (!reader.TryRead(out var encoding) || !reader.TryReadBigEndian(out short rawLength))
        {
            return false;
        }

        var length = (ushort)rawLength;
        if (encoding != Xbzrle.EncodingFlag)
        {
            throw XbzrleError("wrong compression");
        }

        if (length > Xbzrle.MaxLength)
        {
            throw XbzrleError("len overflow");
        }

        if (reader.Remaining < length)
        {
            return false;
        }

        var (page, data) = Buffers();
        reader.TryCopyTo(data.AsSpan(0, length));
        reader.Advance(length);
        sink.ReadPage(block, offset, page);
        if (!Xbzrle.TryDecode(data.AsSpan(0, length), page))
        {
            throw XbzrleError("decode error");
        }

        XbzrlePages++;
        sink.OnPage(block, offset, new ReadOnlySequence<byte>(page));
        return true;
    }

    /// <summary>A compressed record's data, after its address word (and idstr): be32 length, then the zlib stream.</summary>
    public bool TryReadCompressed(ref SequenceReader<byte> reader, int block, long offset)
    {
        if (!TryReadBe32(ref reader, out var rawLength))
        {
            return false;
        }

        var length = (int)rawLength;
        if (length < 0 || length > CompressedPage.MaxLength)
        {
            throw new MigrationStreamException($"Invalid compressed data length: {length}");
        }

        if (reader.Remaining < length)
        {
            return false;
        }

        var (page, data) = Buffers();
        reader.TryCopyTo(data.AsSpan(0, length));
        reader.Advance(length);
        _source ??= new CompressedPage.SpanSource();
        _source.Set(data, length);
        if (!CompressedPage.TryDecode(_source, page))
        {
            throw new MigrationStreamException($"decompress data failed (the compressed page at offset 0x{offset:x} is not a zlib stream of one page)");
        }

        CompressedPages++;
        sink.OnPage(block, offset, new ReadOnlySequence<byte>(page));
        return true;
    }

    private (byte[] Page, byte[] Data) Buffers()
    {
        _page ??= new byte[QemuFormat.TargetPageSize];
        _data ??= new byte[CompressedPage.MaxLength];
        return (_page, _data);
    }

    private static MigrationStreamException XbzrleError(string what) => new($"Failed to load XBZRLE page - {what}!");
}
