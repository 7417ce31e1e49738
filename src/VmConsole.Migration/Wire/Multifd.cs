using System.Buffers.Binary;
using System.Text;

namespace VmConsole.Migration.Wire;

/// <summary>
/// QEMU 7.2's multifd wire format (migration/multifd.c; DESIGN.md section 12): the 64-byte hello that opens each extra
/// connection, and the fixed-size packet header (1,344 bytes on x86) that precedes each packet's pages. Big-endian.
/// </summary>
public static class Multifd
{
    /// <summary>MULTIFD_MAGIC: the first four bytes of every extra connection (the main one starts with "QEVM").</summary>
    public const uint Magic = 0x11223344;

    /// <summary>MULTIFD_VERSION.</summary>
    public const uint Version = 1;

    /// <summary>MultiFDInit_t: magic, version, 16-byte uuid, channel id, 7 + 32 bytes reserved.</summary>
    public const int HelloLength = 64;

    /// <summary>Pages a packet may carry: MULTIFD_PACKET_SIZE (512 KiB) in target pages.</summary>
    public const int PagesPerPacket = 512 * 1024 / QemuFormat.TargetPageSize;

    /// <summary>MultiFDPacket_t without its offsets: six be32, be64 packet number, 32 reserved bytes, 256-byte idstr.</summary>
    public const int FixedHeaderLength = (6 * 4) + 8 + 32 + 256;

    /// <summary>What QEMU sends and reads for every packet, however many pages it has: the header and 128 be64 offsets.</summary>
    public const int PacketHeaderLength = FixedHeaderLength + (PagesPerPacket * 8);

    /// <summary>MULTIFD_FLAG_SYNC: the last packet of the channel before a RAM EOS.</summary>
    public const uint FlagSync = 1;

    /// <summary>MULTIFD_FLAG_COMPRESSION_MASK: bits 1 to 3.</summary>
    public const uint FlagCompressionMask = 7 << 1;

    /// <summary>The largest channel count QEMU takes (multifd-channels is a uint8 from 1).</summary>
    public const int MaxChannels = 255;

    /// <summary>The offset of the idstr within a packet header.</summary>
    private const int IdStrOffset = (6 * 4) + 8 + 32;

    /// <summary>The compression flag of <paramref name="compression"/>: MULTIFD_FLAG_NOCOMP (0), _ZLIB (2), _ZSTD (4).</summary>
    public static uint CompressionFlag(MultifdCompression compression) => compression switch
    {
        MultifdCompression.Zlib => 1 << 1,
        MultifdCompression.Zstd => 2 << 1,
        _ => 0,
    };

    /// <summary>Writes channel <paramref name="channel"/>'s hello into <paramref name="destination"/> (64 bytes).</summary>
    public static void WriteHello(Span<byte> destination, ReadOnlySpan<byte> uuid, byte channel)
    {
        destination[..HelloLength].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(destination, Magic);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], Version);
        uuid[..16].CopyTo(destination[8..]);
        destination[24] = channel;
    }

    /// <summary>
    /// Checks a hello as QEMU's <c>multifd_recv_initial_packet</c> does and returns its channel id; a bad one is a
    /// <see cref="MigrationStreamException"/> in QEMU's words (a clearer one for an id out of range).
    /// </summary>
    public static int ReadHello(ReadOnlySpan<byte> hello, ReadOnlySpan<byte> expectedUuid, int channels)
    {
        var magic = BinaryPrimitives.ReadUInt32BigEndian(hello);
        if (magic != Magic)
        {
            throw new MigrationStreamException($"multifd: received packet magic {magic:x} expected {Magic:x}");
        }

        var version = BinaryPrimitives.ReadUInt32BigEndian(hello[4..]);
        if (version != Version)
        {
            throw new MigrationStreamException($"multifd: received packet version {version} expected {Version}");
        }

        var id = hello[24];
        if (!hello.Slice(8, 16).SequenceEqual(expectedUuid[..16]))
        {
            throw new MigrationStreamException(
                $"multifd: received uuid '{FormatUuid(hello.Slice(8, 16))}' and expected uuid '{FormatUuid(expectedUuid)}' for channel {id}");
        }

        if (id >= channels)
        {
            throw new MigrationStreamException($"multifd: received channel id {id}, but this destination expects {channels} channel{(channels == 1 ? "" : "s")} (ids 0 to {channels - 1})");
        }

        return id;
    }

    /// <summary>
    /// Writes a packet header (<see cref="PacketHeaderLength"/> bytes): <paramref name="flags"/>, the pages allocated (128),
    /// the pages in it, the size of the payload after it, its number, the block's idstr and the pages' byte offsets.
    /// </summary>
    public static void WritePacketHeader(
        Span<byte> destination, uint flags, ReadOnlySpan<long> offsets, int payloadSize, ulong packetNumber, ReadOnlySpan<byte> idStr)
    {
        var header = destination[..PacketHeaderLength];
        header.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(header, Magic);
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], Version);
        BinaryPrimitives.WriteUInt32BigEndian(header[8..], flags);
        BinaryPrimitives.WriteUInt32BigEndian(header[12..], PagesPerPacket);
        BinaryPrimitives.WriteUInt32BigEndian(header[16..], (uint)offsets.Length);
        BinaryPrimitives.WriteUInt32BigEndian(header[20..], (uint)payloadSize);
        BinaryPrimitives.WriteUInt64BigEndian(header[24..], packetNumber);
        idStr.CopyTo(header[IdStrOffset..]);
        var slots = header[FixedHeaderLength..];
        for (var i = 0; i < offsets.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(slots[(i * 8)..], (ulong)offsets[i]);
        }
    }

    /// <summary>
    /// Reads a packet header as QEMU's <c>multifd_recv_unfill_packet</c> does, up to the block: every problem is a
    /// <see cref="MigrationStreamException"/> in QEMU's words. The offsets are checked once the block is known
    /// (<see cref="ReadOffsets"/>).
    /// </summary>
    public static MultifdPacketHeader ReadPacketHeader(ReadOnlySpan<byte> header, int channel)
    {
        var magic = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (magic != Magic)
        {
            throw new MigrationStreamException($"multifd: received packet magic {magic:x} and expected magic {Magic:x} (channel {channel})");
        }

        var version = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        if (version != Version)
        {
            throw new MigrationStreamException($"multifd: received packet version {version} and expected version {Version} (channel {channel})");
        }

        var flags = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        var allocated = BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
        if (allocated > PagesPerPacket)
        {
            throw new MigrationStreamException($"multifd: received packet with size {allocated} and expected a size of {PagesPerPacket} (channel {channel})");
        }

        var pages = BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
        if (pages > allocated)
        {
            throw new MigrationStreamException($"multifd: received packet with {pages} pages and expected maximum pages are {allocated} (channel {channel})");
        }

        var size = BinaryPrimitives.ReadUInt32BigEndian(header[20..]);
        var number = BinaryPrimitives.ReadUInt64BigEndian(header[24..]);
        var idStr = header.Slice(IdStrOffset, 256);
        var end = idStr[..255].IndexOf((byte)0);
        return new MultifdPacketHeader(flags, (int)pages, size, number, end < 0 ? 255 : end);
    }

    /// <summary>The packet's block idstr (NUL-terminated within its 256 bytes, as QEMU forces the last byte to NUL).</summary>
    public static ReadOnlySpan<byte> IdStr(ReadOnlySpan<byte> header, in MultifdPacketHeader packet) => header.Slice(IdStrOffset, packet.IdStrLength);

    /// <summary>Reads the packet's offsets into <paramref name="offsets"/>, each checked against the block's used length as QEMU does.</summary>
    public static void ReadOffsets(ReadOnlySpan<byte> header, in MultifdPacketHeader packet, long usedLength, Span<long> offsets, int channel)
    {
        var slots = header[FixedHeaderLength..];
        for (var i = 0; i < packet.Pages; i++)
        {
            var offset = BinaryPrimitives.ReadUInt64BigEndian(slots[(i * 8)..]);
            if (offset > (ulong)(usedLength - QemuFormat.TargetPageSize))
            {
                throw new MigrationStreamException($"multifd: offset too long {offset} (max {usedLength:x}) (channel {channel})");
            }

            if (offset % QemuFormat.TargetPageSize != 0)
            {
                throw new MigrationStreamException($"multifd: offset {offset:x} is not a multiple of the {QemuFormat.TargetPageSize}-byte page (channel {channel})");
            }

            offsets[i] = (long)offset;
        }
    }

    private static string FormatUuid(ReadOnlySpan<byte> uuid)
    {
        var hex = Convert.ToHexStringLower(uuid[..16]);
        return new StringBuilder(hex).Insert(20, '-').Insert(16, '-').Insert(12, '-').Insert(8, '-').ToString();
    }
}

/// <summary>A multifd packet header as read: its flags, the pages it carries, the payload size after it, its number, its idstr's length.</summary>
public readonly record struct MultifdPacketHeader(uint Flags, int Pages, uint PayloadSize, ulong Number, int IdStrLength)
{
    public bool Sync => (Flags & Multifd.FlagSync) != 0;
}
