using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Pipelines;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Wire;

/// <summary>
/// What a QEMU 7.2 source sends with its stream options (return path, postcopy-ram, x-ignore-shared, xbzrle, compress,
/// block), on hand-made streams: taken as QEMU takes it, or refused with QEMU's words or a sentence naming it.
/// </summary>
public sealed class StreamOptionTests
{
    private const int PageSize = QemuFormat.TargetPageSize;

    private static StreamBytes Start() => new StreamBytes().Header().Configuration();

    /// <summary>The configuration with QEMU's capabilities subsection, as a source with x-ignore-shared writes it.</summary>
    private static StreamBytes StartIgnoringShared() =>
        new StreamBytes().Header().Configuration().U8(QemuFormat.Subsection).Counted("configuration/capabilities").Be32(1).Be32(1).Counted("x-ignore-shared");

    private static StreamBytes Command(StreamBytes stream, MigrationCommand command, ReadOnlySpan<byte> data) =>
        stream.U8(QemuFormat.Command).Raw([(byte)((ushort)command >> 8), (byte)command]).Raw([(byte)(data.Length >> 8), (byte)data.Length]).Raw(data);

    private static byte[] Be32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] Advise(ulong summary, ulong targetPageSize)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, summary);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), targetPageSize);
        return bytes;
    }

    /// <summary>A RAM part of section 1 with one record for block "pc.ram", then EOS, footer, EOF.</summary>
    private static StreamBytes PartWith(StreamBytes stream, ulong flags, Action<StreamBytes> data)
    {
        stream.U8(QemuFormat.SectionPart).Be32(1).Be64(flags).Counted("pc.ram");
        data(stream);
        return stream.Be64(QemuFormat.RamFlagEos).Footer(1).U8(QemuFormat.Eof);
    }

    private static async Task<PageSink> ReadAsync(StreamBytes stream, IMigrationReturnPath? returnPath = null, IncomingCapabilities? capabilities = null, PageSink? sink = null)
    {
        sink ??= new PageSink();
        var reader = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(stream.ToArray())), sink, null, null, returnPath, capabilities);
        await reader.ReadToEndAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        return sink;
    }

    private static async Task<string> ErrorAsync(StreamBytes stream, IMigrationReturnPath? returnPath = null, IncomingCapabilities? capabilities = null, PageSink? sink = null)
    {
        var reader = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(stream.ToArray())), sink ?? new PageSink(), null, null, returnPath, capabilities);
        var error = await Assert.ThrowsAnyAsync<MigrationStreamException>(() => reader.ReadToEndAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        return error.Message;
    }

    [Fact]
    public async Task Commands_OpenReturnPathAndPing_PongWithTheValue()
    {
        var returnPath = new RecordingReturnPath();
        var stream = Command(Command(Start(), MigrationCommand.OpenReturnPath, []), MigrationCommand.Ping, Be32(0xC0FFEE01)).RamSetup(1, ("pc.ram", PageSize)).U8(QemuFormat.Eof);

        var sink = await ReadAsync(stream, returnPath);

        Assert.True(returnPath.Opened);
        Assert.Equal([0xC0FFEE01u], returnPath.Pongs);
        Assert.True(sink.Eof);
    }

    [Fact]
    public async Task Commands_InAFile_ReturnPathCommandsIgnored()
    {
        var stream = Command(Command(Start(), MigrationCommand.OpenReturnPath, []), MigrationCommand.Ping, Be32(1)).RamSetup(1, ("pc.ram", PageSize)).U8(QemuFormat.Eof);

        var sink = await ReadAsync(stream);

        Assert.True(sink.Eof);
    }

    [Fact]
    public async Task Commands_PingBeforeOpen_QemusWords() =>
        Assert.Equal("CMD_PING (0x7) received with no return path", await ErrorAsync(Command(Start(), MigrationCommand.Ping, Be32(7)), new RecordingReturnPath()));

    [Theory]
    [InlineData(MigrationCommand.PostcopyListen, 0, "POSTCOPY_LISTEN")]
    [InlineData(MigrationCommand.PostcopyRun, 0, "POSTCOPY_RUN")]
    [InlineData(MigrationCommand.PostcopyRamDiscard, 12, "POSTCOPY_RAM_DISCARD")]
    [InlineData(MigrationCommand.Packaged, 4, "PACKAGED")]
    public async Task Commands_PostcopySwitch_RefusedNamingIt(MigrationCommand command, int length, string name)
    {
        var message = await ErrorAsync(Command(Start(), command, new byte[length]));

        Assert.Equal(
            $"The source switched to postcopy (command {name}): VmConsole receives precopy only. Migrate without migrate-start-postcopy; postcopy-ram may stay set.",
            message);
    }

    [Theory]
    [InlineData(0, 0, "MIG_CMD 0x0 unknown (len 0x0)")]
    [InlineData(11, 2, "MIG_CMD 0xb unknown (len 0x2)")]
    [InlineData(2, 3, "PING received with bad length - expecting 4, got 3")]
    [InlineData(1, 1, "OPEN_RETURN_PATH received with bad length - expecting 0, got 1")]
    [InlineData(3, 8, "CMD_POSTCOPY_ADVISE invalid length (8)")]
    [InlineData(3, 100, "CMD_POSTCOPY_ADVISE invalid length (100)")]
    public async Task Commands_UnknownOrBadLength_QemusWords(int command, int length, string expected)
    {
        var stream = Start().U8(QemuFormat.Command).Raw([0, (byte)command, 0, (byte)length]).Raw(new byte[length]).U8(QemuFormat.Eof);

        Assert.Equal(expected, await ErrorAsync(stream));
    }

    [Fact]
    public async Task Commands_Truncated_NamesTheCommand()
    {
        var message = await ErrorAsync(Start().U8(QemuFormat.Command).Raw([0, 2, 0, 4, 0, 0]));

        Assert.StartsWith("truncated migration stream: it ended at byte", message, StringComparison.Ordinal);
        Assert.Contains("a command (QEMU_VM_COMMAND)", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Advise_Empty_TakenWithoutPostcopy()
    {
        var sink = await ReadAsync(Command(Start(), MigrationCommand.PostcopyAdvise, []).RamSetup(1, ("pc.ram", PageSize)).U8(QemuFormat.Eof));

        Assert.Equal([new RamBlockHeader("pc.ram", PageSize)], sink.Blocks);
    }

    [Fact]
    public async Task Advise_EmptyWhenToldPostcopyRam_QemusWords() =>
        Assert.Equal(
            "RAM postcopy is enabled but have 0 byte advise",
            await ErrorAsync(Command(Start(), MigrationCommand.PostcopyAdvise, []), capabilities: new IncomingCapabilities(PostcopyRam: true)));

    [Fact]
    public async Task Advise_OtherTargetPageSize_QemusWords() =>
        Assert.Equal(
            "Postcopy needs matching target page sizes (s=8192 d=4096)",
            await ErrorAsync(Command(Start(), MigrationCommand.PostcopyAdvise, Advise(4096, 8192))));

    [Fact]
    public async Task Advise_Twice_WrongPostcopyState() =>
        Assert.Equal(
            "CMD_POSTCOPY_ADVISE in wrong postcopy state (1)",
            await ErrorAsync(Command(Command(Start(), MigrationCommand.PostcopyAdvise, []), MigrationCommand.PostcopyAdvise, [])));

    [Fact]
    public async Task BlockList_PostcopyRam_PageSizeReadWhereTheBlockCarriesIt()
    {
        // postcopy-ram learnt from the 16-byte advise: "huge" (2 MiB pages) carries its page size, the others do not.
        var stream = Command(Start(), MigrationCommand.PostcopyAdvise, Advise(4096 | (2 << 20), 4096))
            .SectionStart(QemuFormat.SectionStart, 1, "ram", 0, 4).Be64((6 * PageSize) | QemuFormat.RamFlagMemSize)
            .Counted("pc.ram").Be64(2 * PageSize)
            .Counted("huge").Be64(2 * PageSize).Be64(2 << 20)
            .Counted("last").Be64(2 * PageSize)
            .Be64(QemuFormat.RamFlagEos).Footer(1).U8(QemuFormat.Eof);

        var sink = await ReadAsync(stream);

        Assert.Equal(
            [new RamBlockHeader("pc.ram", 2 * PageSize), new RamBlockHeader("huge", 2 * PageSize) { PageSize = 2 << 20 }, new RamBlockHeader("last", 2 * PageSize)],
            sink.Blocks);
    }

    [Fact]
    public async Task BlockList_PostcopyRamLastBlockWithPageSize_Read()
    {
        var stream = Command(Start(), MigrationCommand.PostcopyAdvise, Advise(4096 | (2 << 20), 4096))
            .SectionStart(QemuFormat.SectionStart, 1, "ram", 0, 4).Be64(PageSize | QemuFormat.RamFlagMemSize)
            .Counted("huge").Be64(PageSize).Be64(2 << 20)
            .Be64(QemuFormat.RamFlagEos).Footer(1).U8(QemuFormat.Eof);

        var sink = await ReadAsync(stream);

        Assert.Equal([new RamBlockHeader("huge", PageSize) { PageSize = 2 << 20 }], sink.Blocks);
    }

    [Fact]
    public async Task BlockList_IgnoreSharedAndPostcopy_AddressesAndPageSizes()
    {
        var stream = Command(StartIgnoringShared(), MigrationCommand.PostcopyAdvise, Advise(4096 | (2 << 20), 4096))
            .SectionStart(QemuFormat.SectionStart, 1, "ram", 0, 4).Be64((3 * PageSize) | QemuFormat.RamFlagMemSize)
            .Counted("pc.ram").Be64(PageSize).Be64(0)
            .Counted("huge").Be64(PageSize).Be64(2 << 20).Be64(0x2_0000_0000)
            .Counted("rom").Be64(PageSize).Be64(0xFFFC_0000)
            .Be64(QemuFormat.RamFlagEos).Footer(1).U8(QemuFormat.Eof);

        var sink = await ReadAsync(stream);

        Assert.Equal(
            [
                new RamBlockHeader("pc.ram", PageSize) { GuestAddress = 0 },
                new RamBlockHeader("huge", PageSize) { PageSize = 2 << 20, GuestAddress = 0x2_0000_0000 },
                new RamBlockHeader("rom", PageSize) { GuestAddress = 0xFFFC_0000 },
            ],
            sink.Blocks);
    }

    [Fact]
    public async Task Configuration_ToldIgnoreSharedButTheSourceHasNot_QemusWords()
    {
        var stream = Start().RamSetup(1, ("pc.ram", PageSize), ("pc.bios", PageSize)).U8(QemuFormat.Eof);

        var message = await ErrorAsync(stream, capabilities: new IncomingCapabilities(XIgnoreShared: true));

        Assert.Equal("Capability x-ignore-shared is on, but received capability is off", message);
    }

    [Fact]
    public async Task Configuration_UuidAndCapabilitiesSubsections_Taken()
    {
        var stream = StartIgnoringShared().U8(QemuFormat.Subsection).Counted("configuration/uuid").Be32(1).Raw(new byte[16])
            .SectionStart(QemuFormat.SectionStart, 1, "ram", 0, 4).Be64(PageSize | QemuFormat.RamFlagMemSize).Counted("pc.ram").Be64(PageSize).Be64(0x10_0000)
            .Be64(QemuFormat.RamFlagEos).Footer(1).U8(QemuFormat.Eof);

        var sink = await ReadAsync(stream);

        Assert.Equal([new RamBlockHeader("pc.ram", PageSize) { GuestAddress = 0x10_0000 }], sink.Blocks);
    }

    [Theory]
    [InlineData("configuration/capabilities", "Received unknown capability postcopy-ram")]
    [InlineData("configuration/other", "Configuration section: unknown subsection 'configuration/other'")]
    public async Task Configuration_UnknownCapabilityOrSubsection_Refused(string subsection, string expected)
    {
        var stream = Start().U8(QemuFormat.Subsection).Counted(subsection).Be32(1).Be32(1).Counted("postcopy-ram").U8(QemuFormat.Eof);

        Assert.Equal(expected, await ErrorAsync(stream));
    }

    [Fact]
    public async Task Xbzrle_Delta_DecodedAgainstThePageHeld()
    {
        var before = Streams.PageData(3);
        var delta = new StreamBytes().U8(10).U8(2).U8(0xAA).U8(0xBB).Raw([0x80 | (300 & 0x7F), 300 >> 7]).U8(1).U8(0xCC).ToArray();
        var stream = PartWith(Start().RamSetup(1, ("pc.ram", 2 * PageSize)), QemuFormat.RamFlagXbzrle | PageSize, s => s.U8(Xbzrle.EncodingFlag).Raw([0, (byte)delta.Length]).Raw(delta));
        var sink = new PageSink();
        sink.Preset(0, PageSize, before);

        await ReadAsync(stream, sink: sink);

        var expected = before.ToArray();
        expected[10] = 0xAA;
        expected[11] = 0xBB;
        expected[12 + 300] = 0xCC;
        Assert.Equal(expected, sink.Page(0, PageSize));
    }

    [Theory]
    [InlineData(new byte[] { 0x02, 0, 2, 1, 1, 0xAA }, 6, "Failed to load XBZRLE page - wrong compression!")]
    [InlineData(new byte[] { 0x01, 0x10, 0x01 }, 0, "Failed to load XBZRLE page - len overflow!")]
    [InlineData(new byte[] { 0x01, 0, 4, 0x80, 0x21, 1, 0xAA }, 0, "Failed to load XBZRLE page - decode error!")] // a run past the page
    [InlineData(new byte[] { 0x01, 0, 5, 0xFF, 0x1F, 2, 0xAA, 0xBB }, 0, "Failed to load XBZRLE page - decode error!")] // a changed run past the page
    [InlineData(new byte[] { 0x01, 0, 3, 0, 0, 0xAA }, 0, "Failed to load XBZRLE page - decode error!")] // a changed run of 0
    [InlineData(new byte[] { 0x01, 0, 4, 0, 5, 0xAA, 0xBB }, 0, "Failed to load XBZRLE page - decode error!")] // a run past the delta
    [InlineData(new byte[] { 0x01, 0, 4, 0x80, 0x80, 1, 0xAA }, 0, "Failed to load XBZRLE page - decode error!")] // a length of three bytes
    public async Task Xbzrle_Bad_QemusWords(byte[] record, int padding, string expected)
    {
        var stream = PartWith(Start().RamSetup(1, ("pc.ram", PageSize)), QemuFormat.RamFlagXbzrle, s => s.Raw(record).Raw(new byte[padding]));

        Assert.Equal(expected, await ErrorAsync(stream));
    }

    [Fact]
    public void Xbzrle_ZeroUnchangedRunAfterTheFirst_DecodeError()
    {
        var page = new byte[PageSize];

        Assert.False(Xbzrle.TryDecode([1, 1, 0xAA, 0, 1, 0xBB], page));
        page.AsSpan().Clear();
        Assert.True(Xbzrle.TryDecode([0, 1, 0xAA, 1, 1, 0xBB], page));
        Assert.Equal([0xAA, 0, 0xBB], page[..3]);
    }

    [Fact]
    public async Task Compressed_ZlibPage_Inflated()
    {
        var data = Compressible(9);
        var compressed = Compress(data);
        var stream = PartWith(Start().RamSetup(1, ("pc.ram", 2 * PageSize)), QemuFormat.RamFlagCompressPage | PageSize, s => s.Be32((uint)compressed.Length).Raw(compressed));

        var sink = await ReadAsync(stream);

        Assert.Equal(data, sink.Page(0, PageSize));
    }

    [Fact]
    public async Task Compressed_Garbage_DecompressFailed()
    {
        var stream = PartWith(Start().RamSetup(1, ("pc.ram", PageSize)), QemuFormat.RamFlagCompressPage, s => s.Be32(5).Raw([1, 2, 3, 4, 5]));

        Assert.StartsWith("decompress data failed", await ErrorAsync(stream), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compressed_MoreThanAPage_DecompressFailed()
    {
        var compressed = Compress(new byte[PageSize + 1]);
        var stream = PartWith(Start().RamSetup(1, ("pc.ram", PageSize)), QemuFormat.RamFlagCompressPage, s => s.Be32((uint)compressed.Length).Raw(compressed));

        Assert.StartsWith("decompress data failed", await ErrorAsync(stream), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compressed_BadChecksum_DecompressFailed()
    {
        var compressed = Compress(Compressible(2));
        compressed[^1] ^= 0xFF;
        var stream = PartWith(Start().RamSetup(1, ("pc.ram", PageSize)), QemuFormat.RamFlagCompressPage, s => s.Be32((uint)compressed.Length).Raw(compressed));

        Assert.StartsWith("decompress data failed", await ErrorAsync(stream), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compressed_LengthOverBound_QemusWords()
    {
        var stream = PartWith(Start().RamSetup(1, ("pc.ram", PageSize)), QemuFormat.RamFlagCompressPage, s => s.Be32(4111));

        Assert.Equal("Invalid compressed data length: 4111", await ErrorAsync(stream));
    }

    [Theory]
    [InlineData("block", "Block migration is not supported")]
    [InlineData("dirty-bitmap", "Dirty bitmap migration is not supported")]
    public async Task Sections_BlockAndDirtyBitmap_RefusedByName(string idStr, string expected)
    {
        var stream = Start().SectionStart(QemuFormat.SectionStart, 1, idStr, 0, 1).Be64(0);

        var message = await ErrorAsync(stream);

        Assert.StartsWith(expected, message, StringComparison.Ordinal);
        Assert.Contains($"'{idStr}'", message, StringComparison.Ordinal);
    }

    /// <summary>A page of text-like bytes that zlib makes smaller, as QEMU's pages mostly are.</summary>
    private static byte[] Compressible(int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, PageSize).Select(_ => (byte)('a' + random.Next(8)))];
    }

    /// <summary>Every option at once: return path, advise, page sizes and addresses, XBZRLE and compressed pages.</summary>
    private static StreamBytes EveryOption(int pages)
    {
        var stream = Command(Command(Command(StartIgnoringShared(), MigrationCommand.OpenReturnPath, []), MigrationCommand.Ping, Be32(1)), MigrationCommand.PostcopyAdvise, Advise(4096 | (2 << 20), 4096))
            .SectionStart(QemuFormat.SectionStart, 1, "ram", 0, 4).Be64((ulong)(2 * pages * PageSize) | QemuFormat.RamFlagMemSize)
            .Counted("pc.ram").Be64((ulong)(pages * PageSize)).Be64(0)
            .Counted("huge").Be64((ulong)(pages * PageSize)).Be64(2 << 20).Be64(0x1_0000_0000)
            .Be64(QemuFormat.RamFlagEos).Footer(1);
        var compressed = Compress(Compressible(5));
        stream.U8(QemuFormat.SectionPart).Be32(1);
        for (var i = 0; i < pages; i++)
        {
            var offset = (ulong)(i * PageSize);
            stream.Be64(offset | QemuFormat.RamFlagCompressPage).Counted(i % 2 == 0 ? "pc.ram" : "huge").Be32((uint)compressed.Length).Raw(compressed);
            stream.Be64(offset | QemuFormat.RamFlagXbzrle | QemuFormat.RamFlagContinue).U8(Xbzrle.EncodingFlag).Raw([0, 7]).Raw([(byte)(i % 100), 1, (byte)i, 0x90, 0x01, 0x01]).U8(0xEE);
        }

        return Command(stream.Be64(QemuFormat.RamFlagEos).Footer(1), MigrationCommand.Ping, Be32(2)).U8(QemuFormat.Eof);
    }

    [Fact]
    public async Task EveryOption_ReadInChunksOfAnySize_SameBlocksPagesAndPongs()
    {
        var whole = new RecordingReturnPath();
        var expected = await ReadAsync(EveryOption(8), whole);
        var bytes = EveryOption(8).ToArray();

        for (var seed = 0; seed < 8; seed++)
        {
            var pipe = new Pipe(new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, minimumSegmentSize: 16, useSynchronizationContext: false));
            var sink = new PageSink();
            var returnPath = new RecordingReturnPath();
            var reading = new MigrationStreamReader(pipe.Reader, sink, null, null, returnPath).ReadToEndAsync(CancellationToken.None);
            var random = new Random(seed);
            for (var position = 0; position < bytes.Length;)
            {
                var count = Math.Min(random.Next(1, 12), bytes.Length - position);
                await pipe.Writer.WriteAsync(bytes.AsMemory(position, count));
                position += count;
            }

            await pipe.Writer.CompleteAsync();
            await reading.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(expected.Blocks, sink.Blocks);
            Assert.Equal(expected.Pages, sink.Pages);
            Assert.Equal([1u, 2u], returnPath.Pongs);
        }

        Assert.Equal([1u, 2u], whole.Pongs);
        Assert.Equal(8, expected.Pages.Count);
        var first = Compressible(5);
        first[0] = 0;
        first[1 + 144] = 0xEE; // 0x90 0x01: 144 unchanged bytes in two ULEB128 bytes
        Assert.Equal(first, expected.Pages[(0, 0)]);
    }

    [Fact]
    public void Xbzrle_TwoThousandPages_AllocatesNothingPerPage()
    {
        var delta = new byte[] { 5, 2, 0xAA, 0xBB, 0x90, 0x01, 0x01, 0xCC };
        var stream = Start().RamSetup(1, ("pc.ram", 64 * PageSize));
        stream.U8(QemuFormat.SectionPart).Be32(1);
        for (var i = 0; i < 2000; i++)
        {
            stream.Be64((ulong)(i % 64 * PageSize) | QemuFormat.RamFlagXbzrle | (i == 0 ? 0 : QemuFormat.RamFlagContinue));
            if (i == 0)
            {
                stream.Counted("pc.ram");
            }

            stream.U8(Xbzrle.EncodingFlag).Raw([0, (byte)delta.Length]).Raw(delta);
        }

        var bytes = stream.Be64(QemuFormat.RamFlagEos).Footer(1).U8(QemuFormat.Eof).ToArray();
        var page = new byte[PageSize];
        ReadCounting(bytes, page); // Warm-up: JIT and tiering.

        var before = GC.GetAllocatedBytesForCurrentThread();
        var pages = ReadCounting(bytes, page);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(2000, pages);
        Assert.True(allocated < 48 * 1024, $"{allocated} bytes allocated reading 2,000 XBZRLE pages");
    }

    private static int ReadCounting(byte[] stream, byte[] page)
    {
        var sink = new CountingSink(page);
        var reading = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(stream)), sink).ReadToEndAsync(CancellationToken.None);
        Assert.True(reading.IsCompletedSuccessfully, "the read over an in-memory sequence should finish without waiting");
        return sink.Pages;
    }

    private static byte[] Compress(byte[] data)
    {
        var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            zlib.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>Counts pages and keeps none: every XBZRLE delta applies to the same page.</summary>
    private sealed class CountingSink(byte[] page) : IMigrationStreamSink
    {
        public int Pages { get; private set; }

        public void OnConfiguration(string machineType)
        {
        }

        public void OnRamBlocks(IReadOnlyList<RamBlockHeader> blocks)
        {
        }

        public void OnZeroPage(int block, long offset, byte fill) => Pages++;

        public void OnPage(int block, long offset, ReadOnlySequence<byte> data)
        {
            data.CopyTo(page);
            Pages++;
        }

        public void ReadPage(int block, long offset, Span<byte> destination) => page.CopyTo(destination);

        public void OnRamSectionDone(bool end)
        {
        }

        public void OnVmConsoleState(ReadOnlySequence<byte> payload)
        {
        }

        public void OnEof()
        {
        }

        public void OnVmDescription(string json)
        {
        }
    }

    private sealed class RecordingReturnPath : IMigrationReturnPath
    {
        public bool Opened { get; private set; }

        public List<uint> Pongs { get; } = [];

        public void Open() => Opened = true;

        public void SendPong(uint value) => Pongs.Add(value);
    }

    /// <summary>Keeps the pages of each block, so that XBZRLE has a page to decode against.</summary>
    private sealed class PageSink : IMigrationStreamSink
    {
        private readonly Dictionary<(int, long), byte[]> _pages = [];

        public IReadOnlyDictionary<(int Block, long Offset), byte[]> Pages => _pages;

        public IReadOnlyList<RamBlockHeader> Blocks { get; private set; } = [];

        public bool Eof { get; private set; }

        public void Preset(int block, long offset, byte[] page) => _pages[(block, offset)] = page.ToArray();

        public byte[] Page(int block, long offset) => _pages.TryGetValue((block, offset), out var page) ? page : new byte[PageSize];

        public void OnConfiguration(string machineType)
        {
        }

        public void OnRamBlocks(IReadOnlyList<RamBlockHeader> blocks) => Blocks = blocks;

        public void OnZeroPage(int block, long offset, byte fill) => _pages[(block, offset)] = Enumerable.Repeat(fill, PageSize).ToArray();

        public void OnPage(int block, long offset, ReadOnlySequence<byte> data) => _pages[(block, offset)] = data.ToArray();

        public void ReadPage(int block, long offset, Span<byte> page) => Page(block, offset).CopyTo(page);

        public void OnRamSectionDone(bool end)
        {
        }

        public void OnVmConsoleState(ReadOnlySequence<byte> payload)
        {
        }

        public void OnEof() => Eof = true;

        public void OnVmDescription(string json)
        {
        }
    }
}
