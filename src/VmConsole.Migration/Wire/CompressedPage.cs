using System.IO.Compression;

namespace VmConsole.Migration.Wire;

/// <summary>
/// A page of QEMU's <c>compress</c> capability (ram.c, RAM_SAVE_FLAG_COMPRESS_PAGE <c>0x100</c>): be32 length, then
/// an independent zlib stream that inflates to the page.
/// </summary>
public static class CompressedPage
{
    /// <summary>Largest length QEMU takes: zlib's <c>compressBound</c> of one target page.</summary>
    public const int MaxLength = QemuFormat.TargetPageSize + (QemuFormat.TargetPageSize >> 12) + (QemuFormat.TargetPageSize >> 14) + (QemuFormat.TargetPageSize >> 25) + 13;

    /// <summary>
    /// Inflates <paramref name="compressed"/> into <paramref name="page"/>; false where QEMU's <c>qemu_uncompress_data</c>
    /// fails (not a zlib stream, a bad checksum, a stream that does not end within the page or the data), or
    /// when it inflates to less than a page (QEMU's sender always compresses a whole page).
    /// </summary>
    /// <param name="input">A reusable stream over the compressed bytes (<see cref="SpanSource"/>), so that a page costs only the inflater.</param>
    public static bool TryDecode(SpanSource input, Span<byte> page)
    {
        try
        {
            using var zlib = new ZLibStream(input, CompressionMode.Decompress, leaveOpen: true);
            var filled = 0;
            while (filled < page.Length)
            {
                var read = zlib.Read(page[filled..]);
                if (read == 0)
                {
                    break;
                }

                filled += read;
            }

            // A whole page, and the stream ends there: one byte more means it inflates past it (QEMU: no Z_STREAM_END).
            Span<byte> more = stackalloc byte[1];
            return filled == page.Length && zlib.Read(more) == 0;
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }

    /// <summary>A read-only stream over a buffer set for each page; the decoder reuses one.</summary>
    public sealed class SpanSource : Stream
    {
        private byte[] _buffer = [];
        private int _length;
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => _length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        /// <summary>Reads <paramref name="length"/> bytes of <paramref name="buffer"/> from the start.</summary>
        public void Set(byte[] buffer, int length)
        {
            _buffer = buffer;
            _length = length;
            _position = 0;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var count = Math.Min(buffer.Length, _length - _position);
            _buffer.AsSpan(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
