using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using VmConsole.Emulation.Memory;
using VmConsole.Migration.Transports;
using VmConsole.Migration.Wire;

namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// A RAM pass over <see cref="MicroSizes.StreamBytes"/> of guest memory, half zero pages and half random ones (chosen per
/// page, fixed seed), encoded and decoded.
/// <list type="bullet">
/// <item>Encode: <see cref="RamPass"/> (MigrationStreamWriter and the sender's zero check) into the engine's in-process
/// pipe (<see cref="MigrationChannel.InProcess"/>), whose reader drains and drops on another thread.</item>
/// <item>Decode: <see cref="MigrationStreamReader"/> over the stream pre-encoded in memory, handed out as 64 KiB segments as
/// that pipe would, into the engine's own DestinationSink over an incoming VM's guest memory.</item>
/// </list>
/// </summary>
public class StreamBenchmarks
{
    private const int SegmentSize = 64 << 10;

    private static readonly StreamPipeWriterOptions KeepOpen = new(leaveOpen: true);

    private GuestMemory? _source;
    private IncomingVm? _destination;
    private ReadOnlySequence<byte> _stream;
    private long _zeroPages;

    private static int Size => MicroSizes.StreamBytes;

    /// <summary>The source's one block, named as a microvm's main RAM so the destination accepts the stream.</summary>
    private static RamBlockHeader Block => new("microvm.ram", Size);

    /// <summary>Bytes of the encoded stream (set by the decode setup).</summary>
    public static long EncodedBytes { get; private set; }

    [GlobalSetup(Target = nameof(Encode))]
    public void SetupEncode()
    {
        SetupSource();
        var encoded = new MemoryStream();
        RamPass.WriteAsync(PipeWriter.Create(encoded, KeepOpen), "microvm", Block, _source!, CancellationToken.None).GetAwaiter().GetResult();
        var drained = Encode().GetAwaiter().GetResult();
        if (drained != encoded.Length)
        {
            throw new InvalidOperationException($"The pipe's reader got {drained} bytes; the stream has {encoded.Length}.");
        }
    }

    [GlobalSetup(Target = nameof(Decode))]
    public void SetupDecode()
    {
        SetupSource();
        _destination = new IncomingVm(Size);
        // Raw pages take an 8-byte address word and the page, zero pages the word and one byte; 64 KiB more for the rest.
        var rawPages = (Size / MicroSizes.PageSize) - _zeroPages;
        var encoded = new MemoryStream((int)((rawPages * (8 + MicroSizes.PageSize)) + (_zeroPages * 9) + (64 << 10)));
        RamPass.WriteAsync(PipeWriter.Create(encoded, KeepOpen), _destination.Machine, _destination.MainRamHeader, _source!, CancellationToken.None)
            .GetAwaiter().GetResult();
        EncodedBytes = encoded.Length;
        _stream = SegmentedSequence.Create(encoded.GetBuffer(), (int)encoded.Length, SegmentSize);

        Decode().GetAwaiter().GetResult();
        using var sent = _source!.Acquire();
        using var received = _destination.MainRam.AcquireMemory();
        if (!received.Span(0, Size).SequenceEqual(sent.Span(0, Size)))
        {
            throw new InvalidOperationException("The decoded guest memory differs from the encoded one.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _destination?.Dispose();
        _source?.Dispose();
        _stream = default;
    }

    [Benchmark]
    public async Task<long> Encode()
    {
        var channel = MigrationChannel.InProcess();
        await using (channel.ConfigureAwait(false))
        {
            var drain = Task.Run(() => DrainAsync(channel.Input!));
            await RamPass.WriteAsync(channel.Output, "microvm", Block, _source!, CancellationToken.None).ConfigureAwait(false);
            return await drain.ConfigureAwait(false);
        }
    }

    [Benchmark]
    public async Task Decode()
    {
        using var sink = _destination!.CreateSink();
        await new MigrationStreamReader(PipeReader.Create(_stream), sink).ReadToEndAsync(CancellationToken.None).ConfigureAwait(false);
        if (!sink.ReachedEof)
        {
            throw new InvalidOperationException("The decoder stopped before EOF.");
        }
    }

    private static async Task<long> DrainAsync(PipeReader input)
    {
        long drained = 0;
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            drained += result.Buffer.Length;
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                await input.CompleteAsync().ConfigureAwait(false);
                return drained;
            }
        }
    }

    private void SetupSource()
    {
        _source = new GuestMemory(Size);
        using var access = _source.Acquire();
        _zeroPages = GuestFill.HalfZero(access.Span(0, Size), seed: 4);
    }
}
