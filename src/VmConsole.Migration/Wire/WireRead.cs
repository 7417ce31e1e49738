using System.Buffers;

namespace VmConsole.Migration.Wire;

/// <summary>The stream's primitive fields: big-endian integers and counted strings. Each is false when the buffer ends inside it.</summary>
internal static class WireRead
{
    public static bool TryReadBe32(ref SequenceReader<byte> reader, out uint value)
    {
        var read = reader.TryReadBigEndian(out int signed);
        value = (uint)signed;
        return read;
    }

    public static bool TryReadBe64(ref SequenceReader<byte> reader, out ulong value)
    {
        var read = reader.TryReadBigEndian(out long signed);
        value = (ulong)signed;
        return read;
    }

    /// <summary>A counted string (QEMU's <c>qemu_get_counted_string</c>): one length byte, then that many bytes.</summary>
    public static bool TryReadIdStr(ref SequenceReader<byte> reader, scoped Span<byte> buffer, out int length)
    {
        length = 0;
        if (!reader.TryRead(out var count) || !reader.TryCopyTo(buffer[..count]))
        {
            return false;
        }

        reader.Advance(count);
        length = count;
        return true;
    }
}
