using System.IO.Pipelines;

namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// A <see cref="PipeWriter"/> over one reused buffer: what is written is dropped (the buffer starts over when a request
/// does not fit, and at each flush). It measures what a writer costs without a reader on the other side.
/// </summary>
internal sealed class DiscardingPipeWriter(int capacity) : PipeWriter
{
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(capacity, pinned: true);
    private int _position;

    public long BytesWritten { get; private set; }

    public override void Advance(int bytes)
    {
        _position += bytes;
        BytesWritten += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer.AsMemory(Reserve(sizeHint));

    public override Span<byte> GetSpan(int sizeHint = 0) => _buffer.AsSpan(Reserve(sizeHint));

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        _position = 0;
        return ValueTask.FromResult(new FlushResult(isCanceled: false, isCompleted: false));
    }

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }

    private int Reserve(int sizeHint)
    {
        if (_buffer.Length - _position < Math.Max(sizeHint, 1))
        {
            _position = 0;
        }

        return _position;
    }
}
