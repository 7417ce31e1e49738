using System.Buffers;
using System.IO.Compression;
using System.Runtime.InteropServices;
using VmConsole.Migration.Transports;
using ZstdSharp;

namespace VmConsole.Migration.Wire;

/// <summary>Where a decoded multifd page goes: the writable page for the packet's <paramref name="index"/>-th offset.</summary>
public delegate Span<byte> MultifdPageTarget(int index);

/// <summary>
/// One channel's compressor for <c>multifd-compression</c> zlib or zstd (QEMU's multifd-zlib.c, multifd-zstd.c): one
/// stream for the channel's whole life, its pages fed one by one and flushed at the end of each packet (Z_SYNC_FLUSH,
/// ZSTD_e_flush), so that each packet's payload decodes with what came before it on the same channel. Each page is copied
/// before it is compressed (the guest may be writing it). The output buffer is one of the pipes' 1 MiB buffers
/// (<see cref="PipeBufferPool.Large"/>), rented once per channel and given back with it; nothing per page.
/// </summary>
internal sealed class MultifdPacketEncoder : IDisposable
{
    /// <summary>Room for a packet's compressed pages: 512 KiB of pages never compresses past this.</summary>
    public const int OutputCapacity = 1 << 20;

    private readonly MultifdCompression _compression;
    private readonly byte[] _page = new byte[QemuFormat.TargetPageSize];
    private readonly IMemoryOwner<byte> _lease;
    private readonly byte[] _output;
    private readonly SpanWriteStream? _zlibOutput;
    private readonly ZLibStream? _zlib;
    private readonly Compressor? _zstd;
    private int _length;

    public MultifdPacketEncoder(MultifdCompression compression, int level)
    {
        _compression = compression;
        if (compression == MultifdCompression.None)
        {
            throw new ArgumentException("Pages without compression are sent as they are.", nameof(compression));
        }

        (_lease, _output) = RentBuffer();
        if (compression == MultifdCompression.Zlib)
        {
            _zlibOutput = new SpanWriteStream(_output);
            _zlib = new ZLibStream(_zlibOutput, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true);
        }
        else
        {
            _zstd = new Compressor(level);
        }
    }

    /// <summary>A channel's 1 MiB buffer from the pipes' pool, and its array.</summary>
    internal static (IMemoryOwner<byte> Lease, byte[] Array) RentBuffer()
    {
        var lease = PipeBufferPool.Large.Rent(OutputCapacity);
        return MemoryMarshal.TryGetArray<byte>(lease.Memory, out var segment) && segment.Offset == 0 && segment.Array!.Length >= OutputCapacity
            ? (lease, segment.Array)
            : throw new InvalidOperationException("The pipes' pool gave a buffer that is not a whole array.");
    }

    /// <summary>Starts a packet's payload.</summary>
    public void Begin()
    {
        _length = 0;
        _zlibOutput?.Reset();
    }

    /// <summary>Adds a page (copied first).</summary>
    public void Add(ReadOnlySpan<byte> page)
    {
        page.CopyTo(_page);
        if (_zlib is not null)
        {
            _zlib.Write(_page);
            return;
        }

        ReadOnlySpan<byte> input = _page;
        while (!input.IsEmpty)
        {
            var status = _zstd!.WrapStream(input, _output.AsSpan(_length), out var consumed, out var written, isFinalBlock: false);
            _length += written;
            input = input[consumed..];
            if (status == OperationStatus.DestinationTooSmall && written == 0 && consumed == 0)
            {
                throw new InvalidOperationException("multifd zstd: the packet's compressed pages do not fit the channel's buffer.");
            }
        }
    }

    /// <summary>Flushes the stream and returns the packet's payload (valid until the next <see cref="Begin"/>).</summary>
    public ReadOnlySpan<byte> Finish()
    {
        if (_zlib is not null)
        {
            _zlib.Flush();
            return _output.AsSpan(0, _zlibOutput!.Written);
        }

        while (true)
        {
            var status = _zstd!.FlushStream(_output.AsSpan(_length), out var written);
            _length += written;
            if (status == OperationStatus.Done)
            {
                return _output.AsSpan(0, _length);
            }

            if (written == 0)
            {
                throw new InvalidOperationException("multifd zstd: the packet's compressed pages do not fit the channel's buffer.");
            }
        }
    }

    public void Dispose()
    {
        _zlib?.Dispose();
        _zstd?.Dispose();
        _lease.Dispose();
    }

    /// <summary>A stream that appends to a fixed buffer (the zlib stream's output).</summary>
    private sealed class SpanWriteStream(byte[] buffer) : Stream
    {
        public int Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written;

        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public void Reset() => Written = 0;

        public override void Write(ReadOnlySpan<byte> buffer1)
        {
            if (buffer1.Length > buffer.Length - Written)
            {
                throw new InvalidOperationException("multifd zlib: the packet's compressed pages do not fit the channel's buffer.");
            }

            buffer1.CopyTo(buffer.AsSpan(Written));
            Written += buffer1.Length;
        }

        public override void Write(byte[] buffer1, int offset, int count) => Write(buffer1.AsSpan(offset, count));

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer1, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>
/// One channel's decompressor, the receiving twin of <see cref="MultifdPacketEncoder"/>: one stream for the channel's
/// life, each packet's payload inflated page by page straight into guest memory, and QEMU's checks (a page that does not
/// come out whole, a payload that yields more or less than its pages).
/// </summary>
internal sealed class MultifdPacketDecoder : IDisposable
{
    private readonly int _channel;
    private readonly CompressedPage.SpanSource? _zlibInput;

    /// <summary>The bytes of the previous zlib payload its stream had not pulled when its pages were out (none, so far seen).</summary>
    private byte[] _carry = [];
    private readonly ZLibStream? _zlib;
    private readonly Decompressor? _zstd;

    public MultifdPacketDecoder(MultifdCompression compression, int channel)
    {
        _channel = channel;
        if (compression == MultifdCompression.Zlib)
        {
            _zlibInput = new CompressedPage.SpanSource(); // What it does not read of one packet carries over to the next.
            _zlib = new ZLibStream(_zlibInput, CompressionMode.Decompress, leaveOpen: true);
        }
        else if (compression == MultifdCompression.Zstd)
        {
            _zstd = new Decompressor();
        }
        else
        {
            throw new ArgumentException("Pages without compression are read as they are.", nameof(compression));
        }
    }

    /// <summary>Decodes <paramref name="payload"/> (valid during the call) into <paramref name="pages"/> pages given by <paramref name="target"/>.</summary>
    public void Decode(byte[] payload, int length, int pages, MultifdPageTarget target)
    {
        try
        {
            if (_zlib is not null)
            {
                if (_carry.Length > 0)
                {
                    // Rare: the last packet's tail comes first. Its own buffer, as the channel reuses the payload's.
                    var joined = new byte[_carry.Length + length];
                    _carry.CopyTo(joined, 0);
                    payload.AsSpan(0, length).CopyTo(joined.AsSpan(_carry.Length));
                    (payload, length, _carry) = (joined, joined.Length, []);
                }

                _zlibInput!.Set(payload, length);
                for (var i = 0; i < pages; i++)
                {
                    var page = target(i);
                    var read = _zlib.ReadAtLeast(page, page.Length, throwOnEndOfStream: false);
                    if (read != page.Length)
                    {
                        throw SizeMismatch((long)(i * QemuFormat.TargetPageSize) + read, pages);
                    }
                }

                // What the zlib stream has not pulled of this payload belongs before the next one (it is one stream).
                var unread = length - (int)_zlibInput.Position;
                if (unread > 0)
                {
                    _carry = payload.AsSpan(length - unread, unread).ToArray();
                }

                return;
            }

            ReadOnlySpan<byte> input = payload.AsSpan(0, length);
            for (var i = 0; i < pages; i++)
            {
                var page = target(i);
                var filled = 0;
                while (filled < page.Length)
                {
                    var status = _zstd!.UnwrapStream(input, page[filled..], out var consumed, out var written);
                    input = input[consumed..];
                    filled += written;
                    if (status == OperationStatus.InvalidData)
                    {
                        throw new MigrationStreamException($"multifd {_channel}: decompressStream returned an error (the zstd data is corrupt)");
                    }

                    if (consumed == 0 && written == 0)
                    {
                        throw new MigrationStreamException(
                            $"multifd {_channel}: decompressStream buffer size {filled} expected {page.Length}");
                    }
                }
            }
        }
        catch (InvalidDataException ex)
        {
            throw new MigrationStreamException($"multifd {_channel}: inflate returned an error: {ex.Message}", ex);
        }
        catch (ZstdException ex)
        {
            throw new MigrationStreamException($"multifd {_channel}: decompressStream returned an error: {ex.Message}", ex);
        }
    }

    public void Dispose()
    {
        _zlib?.Dispose();
        _zstd?.Dispose();
    }

    private MigrationStreamException SizeMismatch(long received, int pages) =>
        new($"multifd {_channel}: packet size received {received} size expected {(long)pages * QemuFormat.TargetPageSize}");
}
