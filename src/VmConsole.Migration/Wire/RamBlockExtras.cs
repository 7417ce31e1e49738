using System.Buffers;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Wire;

/// <summary>
/// The fields a block of the RAM setup may carry after its used_length (ram.c <c>ram_save_setup</c>): a be64 page size
/// when the source has postcopy-ram and the block's page size is not the host's, then a be64 guest address when it has
/// x-ignore-shared.
/// </summary>
/// <remarks>
/// A QEMU destination reads the page size when its own block's page size is not the host's. VmConsole's blocks take
/// their page size from the stream, so it tells from the bytes: an idstr's length byte is never 0 while a page size's
/// first byte is; the last block is followed by EOS (be64 0x10), which no page size or page-aligned address equals.
/// </remarks>
internal static class RamBlockExtras
{
    /// <summary>False when the buffer ends before the fields could be told apart and read.</summary>
    public static bool TryRead(ref SequenceReader<byte> reader, bool postcopyRam, bool ignoreShared, bool lastBlock, out long? pageSize, out long? address)
    {
        pageSize = null;
        address = null;
        if (postcopyRam)
        {
            // After a page size comes the address (first byte 0 below 2^56) or, without x-ignore-shared, the next idstr or EOS.
            var skip = ignoreShared ? 8 : 0;
            if (!TryPeekFollowing(ref reader, skip, lastBlock, out var hasPageSize))
            {
                return false;
            }

            if (hasPageSize)
            {
                if (!TryReadBe64(ref reader, out var size))
                {
                    return false;
                }

                if (size <= QemuFormat.TargetPageSize || (size & (size - 1)) != 0 || size > 1UL << 40)
                {
                    throw new MigrationStreamException($"RAM setup: a block carries a page size of 0x{size:x}, not a power of two above the target page");
                }

                pageSize = (long)size;
            }
        }

        if (ignoreShared)
        {
            if (!TryReadBe64(ref reader, out var gpa))
            {
                return false;
            }

            if (gpa % QemuFormat.TargetPageSize != 0)
            {
                throw new MigrationStreamException(
                    $"RAM setup: a block's guest address 0x{gpa:x} is not page-aligned. Is the source's x-ignore-shared the same as the one given to VmConsole?");
            }

            address = (long)gpa;
        }

        return true;
    }

    /// <summary>
    /// Whether a page size comes next, seen <paramref name="skip"/> bytes on: a following block's idstr length is never
    /// 0 where a page size or an address (below 2^56) starts with 0; after the last block, EOS is no page size or address.
    /// </summary>
    private static bool TryPeekFollowing(ref SequenceReader<byte> reader, int skip, bool lastBlock, out bool hasPageSize)
    {
        hasPageSize = false;
        var probe = reader;
        if (probe.Remaining < skip)
        {
            return false;
        }

        probe.Advance(skip);
        if (lastBlock)
        {
            if (!TryReadBe64(ref probe, out var next))
            {
                return false;
            }

            hasPageSize = next != QemuFormat.RamFlagEos;
            return true;
        }

        if (!probe.TryPeek(out var first))
        {
            return false;
        }

        hasPageSize = first == 0;
        return true;
    }
}
