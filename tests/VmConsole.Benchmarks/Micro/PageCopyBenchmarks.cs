using System.Buffers;
using BenchmarkDotNet.Attributes;
using VmConsole.Emulation.Memory;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// The engine's two page copies against plain <see cref="Span{T}.CopyTo"/> of the same 4 KiB pages, and memcpy of the
/// whole range for reference. All sources are random bytes far larger than the last-level cache.
/// <list type="bullet">
/// <item>Send: <see cref="MigrationStreamWriter.WritePage"/> (record header, then the page into the pipe's buffer), from
/// guest memory into a reused 1 MiB buffer, as PrecopySender does between flushes (no reader: the buffer is dropped).</item>
/// <item>Receive: <see cref="DestinationSink.OnPage"/> (a page of a pipe buffer into guest memory), what
/// MigrationStreamReader calls for each raw page record.</item>
/// </list>
/// </summary>
public class PageCopyBenchmarks
{
    private const int RingBytes = 1 << 20;

    private GuestMemory? _source;
    private IncomingVm? _destination;
    private DestinationSink? _sink;
    private byte[] _received = [];
    private MigrationStreamWriter _writer = null!;
    private byte[] _ring = [];

    private static int Size => MicroSizes.ScanBytes;

    [GlobalSetup(Target = nameof(Memcpy))]
    public void SetupMemcpy()
    {
        SetupSource();
        _destination = new IncomingVm(Size);
    }

    [GlobalSetup(Targets = [nameof(SendWritePage), nameof(SendCopyTo)])]
    public void SetupSend()
    {
        SetupSource();
        _writer = new MigrationStreamWriter(new DiscardingPipeWriter(RingBytes));
        _writer.WriteRamSetup(PrecopySender.RamSectionId, [new RamBlockHeader("pc.ram", Size)]);
        _ring = new byte[RingBytes];
    }

    [GlobalSetup(Targets = [nameof(ReceiveOnPage), nameof(ReceiveCopyTo)])]
    public void SetupReceive()
    {
        _received = GC.AllocateUninitializedArray<byte>(Size);
        GuestFill.Random(_received, seed: 2);
        _destination = new IncomingVm(Size);
        _sink = _destination.CreateSink();
        _sink.OnRamBlocks([_destination.MainRamHeader]);
        ReceiveOnPage();
        using var access = _destination.MainRam.AcquireMemory();
        if (!access.Span(0, Size).SequenceEqual(_received))
        {
            throw new InvalidOperationException("DestinationSink.OnPage did not land the pages in guest memory.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sink?.Dispose();
        _destination?.Dispose();
        _source?.Dispose();
        _received = [];
    }

    /// <summary>One Span.CopyTo of the whole range (guest memory into guest memory).</summary>
    [Benchmark]
    public void Memcpy()
    {
        using var source = _source!.Acquire();
        using var destination = _destination!.MainRam.AcquireMemory();
        source.Span(0, Size).CopyTo(destination.Span(0, Size));
    }

    [Benchmark]
    public long SendWritePage()
    {
        using var access = _source!.Acquire();
        _writer.BeginRamSection(PrecopySender.RamSectionId, end: false);
        for (long offset = 0; offset < Size; offset += MicroSizes.PageSize)
        {
            _writer.WritePage(0, offset, access.Span(offset, MicroSizes.PageSize));
        }

        _writer.EndRamSection(PrecopySender.RamSectionId);
        return _writer.BytesWritten;
    }

    /// <summary>The same pages, copied one by one into a reused buffer of the same size.</summary>
    [Benchmark]
    public void SendCopyTo()
    {
        using var access = _source!.Acquire();
        var source = access.Span(0, Size);
        var ring = _ring.AsSpan();
        var position = 0;
        for (var offset = 0; offset < Size; offset += MicroSizes.PageSize)
        {
            if (position + MicroSizes.PageSize > ring.Length)
            {
                position = 0;
            }

            source.Slice(offset, MicroSizes.PageSize).CopyTo(ring[position..]);
            position += MicroSizes.PageSize;
        }
    }

    [Benchmark]
    public void ReceiveOnPage()
    {
        var sink = _sink!;
        for (var offset = 0; offset < Size; offset += MicroSizes.PageSize)
        {
            sink.OnPage(0, offset, new ReadOnlySequence<byte>(_received, offset, MicroSizes.PageSize));
        }
    }

    /// <summary>The same pages copied into the same guest memory through one span.</summary>
    [Benchmark]
    public void ReceiveCopyTo()
    {
        using var access = _destination!.MainRam.AcquireMemory();
        var destination = access.Span(0, Size);
        var received = _received.AsSpan();
        for (var offset = 0; offset < Size; offset += MicroSizes.PageSize)
        {
            received.Slice(offset, MicroSizes.PageSize).CopyTo(destination[offset..]);
        }
    }

    private void SetupSource()
    {
        _source = new GuestMemory(Size);
        using var access = _source!.Acquire();
        GuestFill.Random(access.Span(0, Size), seed: 1);
    }
}
