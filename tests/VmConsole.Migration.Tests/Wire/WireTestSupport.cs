using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Wire;

/// <summary>Writes down every sink call as a line of text, pages by their SHA-256; can refuse one kind of call.</summary>
internal sealed class RecordingSink : IMigrationStreamSink
{
    public List<string> Events { get; } = [];

    /// <summary>When set, thrown from <see cref="OnRamBlocks"/>.</summary>
    public Exception? RefuseBlocks { get; init; }

    /// <summary>When true, keeps no events (for allocation measurements).</summary>
    public bool Quiet { get; init; }

    public int Pages { get; private set; }

    public static string Page(int block, long offset, ReadOnlySpan<byte> data) =>
        $"page {block} 0x{offset:x} {Convert.ToHexString(SHA256.HashData(data))}";

    public static string Zero(int block, long offset, byte fill) => $"zero {block} 0x{offset:x} 0x{fill:x2}";

    public static string Blocks(IEnumerable<RamBlockHeader> blocks) =>
        "blocks " + string.Join(" | ", blocks.Select(b => $"{b.IdStr}={b.UsedLength:x}"));

    public static string State(ReadOnlySpan<byte> payload) => $"state {payload.Length} {Convert.ToHexString(SHA256.HashData(payload))}";

    public void OnConfiguration(string machineType) => Add($"config {machineType}");

    public void OnRamBlocks(IReadOnlyList<RamBlockHeader> blocks)
    {
        if (RefuseBlocks is { } refusal)
        {
            throw refusal;
        }

        Add(Blocks(blocks));
    }

    public void OnZeroPage(int block, long offset, byte fill)
    {
        Pages++;
        if (!Quiet)
        {
            Add(Zero(block, offset, fill));
        }
    }

    public void OnPage(int block, long offset, ReadOnlySequence<byte> data)
    {
        Pages++;
        if (!Quiet)
        {
            Add(Page(block, offset, data.ToArray()));
        }
    }

    public void OnRamSectionDone(bool end) => Add(end ? "end" : "part");

    public void OnVmConsoleState(ReadOnlySequence<byte> payload) => Add(State(payload.ToArray()));

    public void OnEof() => Add("eof");

    public void OnVmDescription(string json) => Add($"description {json}");

    private void Add(string line)
    {
        if (!Quiet)
        {
            Events.Add(line);
        }
    }
}

/// <summary>Builds stream bytes field by field, big-endian, for hand-made (and malformed) streams.</summary>
internal sealed class StreamBytes
{
    private readonly List<byte> _bytes = [];

    public int Length => _bytes.Count;

    public StreamBytes U8(byte value)
    {
        _bytes.Add(value);
        return this;
    }

    public StreamBytes Be32(uint value)
    {
        Span<byte> span = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(span, value);
        return Raw(span);
    }

    public StreamBytes Be64(ulong value)
    {
        Span<byte> span = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(span, value);
        return Raw(span);
    }

    /// <summary>A counted string: one length byte, then the UTF-8 bytes.</summary>
    public StreamBytes Counted(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return U8((byte)bytes.Length).Raw(bytes);
    }

    public StreamBytes Raw(ReadOnlySpan<byte> bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public StreamBytes Header() => Be32(QemuFormat.FileMagic).Be32(QemuFormat.FileVersion);

    public StreamBytes Configuration(string machineType = "microvm") =>
        U8(QemuFormat.Configuration).Be32((uint)Encoding.UTF8.GetByteCount(machineType)).Raw(Encoding.UTF8.GetBytes(machineType));

    public StreamBytes SectionStart(byte type, uint sectionId, string idStr, uint instanceId, uint versionId) =>
        U8(type).Be32(sectionId).Counted(idStr).Be32(instanceId).Be32(versionId);

    public StreamBytes Footer(uint sectionId) => U8(QemuFormat.SectionFooter).Be32(sectionId);

    /// <summary>A complete RAM setup section for <paramref name="blocks"/> (id, used_length pairs).</summary>
    public StreamBytes RamSetup(uint sectionId, params (string IdStr, long UsedLength)[] blocks)
    {
        SectionStart(QemuFormat.SectionStart, sectionId, "ram", 0, 4);
        Be64((ulong)blocks.Sum(b => b.UsedLength) | QemuFormat.RamFlagMemSize);
        foreach (var (idStr, usedLength) in blocks)
        {
            Counted(idStr).Be64((ulong)usedLength);
        }

        return Be64(QemuFormat.RamFlagEos).Footer(sectionId);
    }

    public byte[] ToArray() => [.. _bytes];
}

internal static class Streams
{
    public const int PageSize = QemuFormat.TargetPageSize;

    /// <summary>A short, complete stream: header, configuration, RAM, device state, EOF and description.</summary>
    public static byte[] SmallValidStream(bool withDescription = true) => Write(writer =>
    {
        writer.WriteHeader();
        writer.WriteConfiguration("microvm");
        writer.WriteRamSetup(1, [new("microvm.ram", 4 * PageSize), new("/rom@etc/acpi/rsdp", PageSize)]);
        writer.BeginRamSection(1, end: false);
        writer.WriteZeroPage(0, 0, 0);
        writer.WritePage(0, 2 * PageSize, PageData(7));
        writer.WriteZeroPage(1, 0, 0x5A);
        writer.EndRamSection(1);
        writer.BeginRamSection(1, end: true);
        writer.WritePage(1, 0, PageData(8));
        writer.WriteZeroPage(1, 0, 1);
        writer.EndRamSection(1);
        writer.WriteVmConsoleState(2, "{\"run\":\"running\"}"u8);
        writer.WriteEof();
        if (withDescription)
        {
            writer.WriteVmDescription("{\"devices\":[]}");
        }
    });

    /// <summary>A page of pseudo-random bytes, the same for the same seed.</summary>
    public static byte[] PageData(int seed)
    {
        var data = new byte[PageSize];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Everything a writer writes, as bytes.</summary>
    public static byte[] Write(Action<MigrationStreamWriter> write)
    {
        var output = new MemoryStream();
        var pipe = PipeWriter.Create(output, new StreamPipeWriterOptions(leaveOpen: true));
        var writer = new MigrationStreamWriter(pipe);
        write(writer);
        pipe.FlushAsync().AsTask().GetAwaiter().GetResult();
        pipe.Complete();
        Assert.Equal(output.Length, writer.BytesWritten);
        return output.ToArray();
    }

    /// <summary>Reads <paramref name="stream"/> whole; returns the sink and the reader.</summary>
    public static async Task<(RecordingSink Sink, MigrationStreamReader Reader)> ReadAsync(
        byte[] stream, MigrationStreamLimits? limits = null, RecordingSink? sink = null)
    {
        sink ??= new RecordingSink();
        var reader = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(stream)), sink, limits);
        await reader.ReadToEndAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        return (sink, reader);
    }

    /// <summary>The <see cref="MigrationStreamException"/> reading <paramref name="stream"/> ends with.</summary>
    public static async Task<MigrationStreamException> ReadErrorAsync(byte[] stream, MigrationStreamLimits? limits = null)
    {
        var sink = new RecordingSink();
        var reader = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(stream)), sink, limits);
        return await Assert.ThrowsAnyAsync<MigrationStreamException>(
            () => reader.ReadToEndAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>
    /// Feeds <paramref name="stream"/> into a pipe in chunks of 1..<paramref name="maxChunk"/> bytes, one flush each,
    /// with inline schedulers so the reader parses each chunk as it lands; returns what the sink saw.
    /// </summary>
    public static async Task<RecordingSink> ReadChunkedAsync(byte[] stream, int maxChunk, int seed)
    {
        var pipe = new Pipe(new PipeOptions(
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: 64 * 1024,
            resumeWriterThreshold: 32 * 1024,
            minimumSegmentSize: 16,
            useSynchronizationContext: false));
        var sink = new RecordingSink();
        var reader = new MigrationStreamReader(pipe.Reader, sink);
        var reading = reader.ReadToEndAsync(CancellationToken.None);
        var random = new Random(seed);
        var position = 0;
        while (position < stream.Length && !reading.IsCompleted)
        {
            var count = Math.Min(random.Next(1, maxChunk + 1), stream.Length - position);
            await pipe.Writer.WriteAsync(stream.AsMemory(position, count));
            position += count;
        }

        await pipe.Writer.CompleteAsync();
        await reading.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(stream.Length, reader.BytesRead);
        return sink;
    }
}
