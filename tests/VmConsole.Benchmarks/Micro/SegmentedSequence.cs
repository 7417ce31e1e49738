using System.Buffers;

namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// One array seen as a chain of fixed-size segments, as a pipe hands a reader its buffers (the in-process
/// <c>MigrationChannel</c> uses 64 KiB segments, so some page records straddle two of them).
/// </summary>
internal static class SegmentedSequence
{
    public static ReadOnlySequence<byte> Create(byte[] data, int length, int segmentSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var first = new Segment(data.AsMemory(0, Math.Min(segmentSize, length)), 0);
        var last = first;
        for (var start = segmentSize; start < length; start += segmentSize)
        {
            last = last.Append(data.AsMemory(start, Math.Min(segmentSize, length - start)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
