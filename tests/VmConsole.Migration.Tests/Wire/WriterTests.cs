using System.IO.Pipelines;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Wire;

public sealed class WriterTests
{
    private const int PageSize = QemuFormat.TargetPageSize;

    private static readonly RamBlockHeader[] TwoBlocks = [new("pc.ram", 16 * PageSize), new("pc.bios", 2 * PageSize)];

    [Fact]
    public async Task BytesWritten_WholeStream_EqualsBytesArrivingAtReader()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4096, resumeWriterThreshold: 2048, useSynchronizationContext: false));
        var counting = Task.Run(async () =>
        {
            long received = 0;
            while (true)
            {
                var result = await pipe.Reader.ReadAsync();
                received += result.Buffer.Length;
                pipe.Reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return received;
                }
            }
        });
        var writer = new MigrationStreamWriter(pipe.Writer);

        writer.WriteHeader();
        writer.WriteConfiguration("pc-q35-7.2");
        writer.WriteRamSetup(1, TwoBlocks);
        await writer.FlushAsync(CancellationToken.None);
        for (var pass = 0; pass < 3; pass++)
        {
            writer.BeginRamSection(1, end: pass == 2);
            for (var page = 0; page < 16; page++)
            {
                writer.WritePage(0, page * PageSize, Streams.PageData(page));
                writer.WriteZeroPage(1, page % 2 * PageSize, (byte)page);
            }

            writer.EndRamSection(1);
            await writer.FlushAsync(CancellationToken.None);
        }

        writer.WriteVmConsoleState(2, new byte[10_000]);
        writer.WriteEof();
        writer.WriteVmDescription("{\"ß\":\"日本\"}");
        await writer.FlushAsync(CancellationToken.None);
        await pipe.Writer.CompleteAsync();

        var received = await counting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(received, writer.BytesWritten);
        Assert.True(received > 3 * 16 * PageSize);
    }

    [Fact]
    public async Task BytesRead_WholeStream_EqualsBytesWritten()
    {
        var stream = Streams.SmallValidStream();

        var (_, reader) = await Streams.ReadAsync(stream);

        Assert.Equal(stream.Length, reader.BytesRead);
    }

    [Fact]
    public async Task FlushAsync_PeerCompleted_ThrowsIOException()
    {
        var pipe = new Pipe();
        await pipe.Reader.CompleteAsync();
        var writer = new MigrationStreamWriter(pipe.Writer);
        writer.WriteHeader();

        var error = await Assert.ThrowsAsync<IOException>(() => writer.FlushAsync(CancellationToken.None).AsTask());

        Assert.Equal("migration stream closed by the peer", error.Message);
    }

    [Fact]
    public async Task FlushAsync_PeerFinishedAfterEof_Succeeds()
    {
        var pipe = new Pipe();
        var reader = new MigrationStreamReader(pipe.Reader, new RecordingSink());
        var writer = new MigrationStreamWriter(pipe.Writer);
        writer.WriteHeader();
        writer.WriteConfiguration("microvm");
        writer.WriteRamSetup(1, TwoBlocks);
        writer.WriteEof();
        writer.WriteVmDescription("{}");
        await writer.FlushAsync(CancellationToken.None);
        await reader.ReadToEndAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        writer.WriteVmDescription("{}");
        await writer.FlushAsync(CancellationToken.None);

        Assert.Equal(writer.BytesWritten - 7, reader.BytesRead);
    }

    [Fact]
    public async Task FlushAsync_PeerFailed_ThrowsThePeersError()
    {
        var pipe = new Pipe();
        var failure = new MigrationStreamException("Can't find block pc.rom");
        await pipe.Reader.CompleteAsync(failure);
        var writer = new MigrationStreamWriter(pipe.Writer);
        writer.WriteHeader();

        var error = await Assert.ThrowsAsync<MigrationStreamException>(() => writer.FlushAsync(CancellationToken.None).AsTask());

        Assert.Same(failure, error);
    }

    [Fact]
    public async Task FlushAsync_Canceled_ThrowsOperationCanceled()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 16, resumeWriterThreshold: 8));
        var writer = new MigrationStreamWriter(pipe.Writer);
        using var cancellation = new CancellationTokenSource();
        writer.WriteHeader();
        writer.WriteConfiguration("pc-q35-7.2");
        var flush = writer.FlushAsync(cancellation.Token).AsTask();

        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => flush.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void WritePage_TenThousandPages_AllocatesUnder64KiB()
    {
        var output = new DiscardingPipeWriter();
        var writer = new MigrationStreamWriter(output);
        var data = Streams.PageData(1);
        writer.WriteHeader();
        writer.WriteRamSetup(1, TwoBlocks);
        WritePages(writer, data, 200); // Warm-up: JIT, tiering, the flush path.

        var before = GC.GetAllocatedBytesForCurrentThread();
        WritePages(writer, data, 10_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 64 * 1024, $"{allocated} bytes allocated writing 10,000 pages");
        Assert.Equal(output.Advanced, writer.BytesWritten);
    }

    [Fact]
    public void WritePage_NotOnePage_ArgumentException()
    {
        var writer = InRamPart(out _);

        Assert.Throws<ArgumentException>("data", () => writer.WritePage(0, 0, new byte[PageSize - 1]));
    }

    [Theory]
    [InlineData(0, -PageSize)]
    [InlineData(0, 100)]
    [InlineData(0, 16 * PageSize)]
    [InlineData(1, 2 * PageSize)]
    public void WriteZeroPage_OffsetOutsideBlockOrUnaligned_ArgumentOutOfRange(int block, long offset)
    {
        var writer = InRamPart(out var output);

        Assert.Throws<ArgumentOutOfRangeException>("offset", () => writer.WriteZeroPage(block, offset, 0));
        Assert.Equal(output.Advanced, writer.BytesWritten);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    public void WritePage_UnknownBlock_ArgumentOutOfRange(int block)
    {
        var writer = InRamPart(out _);

        Assert.Throws<ArgumentOutOfRangeException>("block", () => writer.WritePage(block, 0, new byte[PageSize]));
    }

    [Fact]
    public void WriteZeroPage_OutsideRamPart_InvalidOperation()
    {
        var writer = new MigrationStreamWriter(new DiscardingPipeWriter());
        writer.WriteRamSetup(1, TwoBlocks);

        Assert.Throws<InvalidOperationException>(() => writer.WriteZeroPage(0, 0, 0));
    }

    [Fact]
    public void BeginRamSection_BeforeSetup_InvalidOperation()
    {
        var writer = new MigrationStreamWriter(new DiscardingPipeWriter());

        Assert.Throws<InvalidOperationException>(() => writer.BeginRamSection(1, end: false));
    }

    [Fact]
    public void EndRamSection_OtherSectionId_ArgumentException()
    {
        var writer = InRamPart(out _);

        Assert.Throws<ArgumentException>("sectionId", () => writer.EndRamSection(2));
    }

    public static TheoryData<RamBlockHeader[]> BadBlockLists() => new()
    {
        new RamBlockHeader[] { new("", PageSize) },
        new RamBlockHeader[] { new(new string('x', 256), PageSize) },
        new RamBlockHeader[] { new(string.Concat(Enumerable.Repeat("ß", 128)), PageSize) },
        new RamBlockHeader[] { new("bad\ud800", PageSize) },
        new RamBlockHeader[] { new("pc.ram", 0) },
        new RamBlockHeader[] { new("pc.ram", PageSize + 512) },
        new RamBlockHeader[] { new("pc.ram", -PageSize) },
        new RamBlockHeader[] { new("pc.ram", PageSize), new("pc.ram", PageSize) },
    };

    [Theory]
    [MemberData(nameof(BadBlockLists))]
    public void WriteRamSetup_InvalidBlock_ArgumentExceptionAndNothingWritten(RamBlockHeader[] blocks)
    {
        var output = new DiscardingPipeWriter();
        var writer = new MigrationStreamWriter(output);

        Assert.Throws<ArgumentException>("blocks", () => writer.WriteRamSetup(1, blocks));
        Assert.Equal(0, output.Advanced);
    }

    [Fact]
    public void WriteRamSetup_IdStrOf255Bytes_Accepted()
    {
        var idStr = string.Concat(Enumerable.Repeat("ß", 127)) + "x";
        var output = new DiscardingPipeWriter();
        var writer = new MigrationStreamWriter(output);

        writer.WriteRamSetup(1, [new(idStr, PageSize)]);

        // Section header 17, MEM_SIZE 8, block 1 + 255 + 8, EOS 8, footer 5.
        Assert.Equal(17 + 8 + 264 + 8 + 5, output.Advanced);
    }

    private static MigrationStreamWriter InRamPart(out DiscardingPipeWriter output)
    {
        output = new DiscardingPipeWriter();
        var writer = new MigrationStreamWriter(output);
        writer.WriteRamSetup(1, TwoBlocks);
        writer.BeginRamSection(1, end: false);
        return writer;
    }

    /// <summary>Parts of 100 pages, alternating between blocks and runs in one block, zero and raw; a flush per part.</summary>
    private static void WritePages(MigrationStreamWriter writer, byte[] data, int count)
    {
        for (var i = 0; i < count; i++)
        {
            if (i % 100 == 0)
            {
                writer.BeginRamSection(1, end: false);
            }

            var block = i % 7 < 3 ? 1 : 0;
            var offset = i % (block == 0 ? 16 : 2) * PageSize;
            if (i % 3 == 0)
            {
                writer.WriteZeroPage(block, offset, 0);
            }
            else
            {
                writer.WritePage(block, offset, data);
            }

            if (i % 100 == 99 || i == count - 1)
            {
                writer.EndRamSection(1);
                var flush = writer.FlushAsync(CancellationToken.None);
                Assert.True(flush.IsCompletedSuccessfully);
            }
        }
    }

    /// <summary>
    /// A writer that keeps nothing: it hands out the same buffer (1000 bytes unless more is asked, so pages are copied
    /// in pieces) and counts what was advanced.
    /// </summary>
    private sealed class DiscardingPipeWriter : PipeWriter
    {
        private readonly byte[] _buffer = new byte[64 * 1024];

        public long Advanced { get; private set; }

        public override void Advance(int bytes) => Advanced += bytes;

        public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer.AsMemory(0, Math.Max(sizeHint, 1000));

        public override Span<byte> GetSpan(int sizeHint = 0) => _buffer.AsSpan(0, Math.Max(sizeHint, 1000));

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(new FlushResult(isCanceled: false, isCompleted: false));
    }
}
