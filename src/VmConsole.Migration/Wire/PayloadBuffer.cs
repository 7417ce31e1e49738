using System.Buffers;

namespace VmConsole.Migration.Wire;

/// <summary>
/// Gathers a length-prefixed payload (device state, description) as it arrives, so the reader never has to hold it
/// unconsumed in the pipe (which would stall a pipe whose pause threshold is below the payload's size). Memory
/// grows with the bytes that actually arrived, never ahead of them from the announced length alone.
/// </summary>
internal sealed class PayloadBuffer : IDisposable
{
    private const int InitialCapacity = 4096;

    private byte[] _buffer = [];

    /// <summary>Bytes the payload announced.</summary>
    public int Length { get; private set; }

    /// <summary>Bytes gathered so far.</summary>
    public int Filled { get; private set; }

    public bool IsComplete => Filled == Length;

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Filled);

    public ReadOnlySequence<byte> Sequence => new(_buffer, 0, Filled);

    public void Start(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        Filled = 0;
    }

    /// <summary>Takes what it still needs from <paramref name="reader"/>; how many bytes it took.</summary>
    public int Append(ref SequenceReader<byte> reader)
    {
        var count = (int)Math.Min(reader.Remaining, Length - Filled);
        if (count == 0)
        {
            return 0;
        }

        Reserve(Filled + count);
        reader.TryCopyTo(_buffer.AsSpan(Filled, count));
        reader.Advance(count);
        Filled += count;
        return count;
    }

    /// <summary>Gives the memory back to the pool; the buffer can be started again.</summary>
    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }

        Length = 0;
        Filled = 0;
    }

    private void Reserve(int needed)
    {
        if (needed <= _buffer.Length)
        {
            return;
        }

        var capacity = (int)Math.Min(Length, Math.Max(needed, Math.Max(InitialCapacity, 2L * _buffer.Length)));
        var grown = ArrayPool<byte>.Shared.Rent(capacity);
        _buffer.AsSpan(0, Filled).CopyTo(grown);
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = grown;
    }
}
