using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.Extensions.Time.Testing;
using VmConsole.Migration.Tests.Wire;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.MultifdChannels;

/// <summary>
/// The multifd receiver against hand-made channels beside a main stream: good packets land in memory (raw, zlib and zstd
/// through one stream per channel), and every malformed one (hello, header, offsets, block, truncation, compression, a
/// missing channel) ends the read with a clear error, never a hang.
/// </summary>
public sealed class MultifdWireTests
{
    private const int PageSize = QemuFormat.TargetPageSize;
    private const int BlockPages = 64;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(MultifdCompression.None)]
    [InlineData(MultifdCompression.Zlib)]
    [InlineData(MultifdCompression.Zstd)]
    public async Task TwoChannels_PagesLandInMemory_ZeroPageFromTheMainStream(MultifdCompression compression)
    {
        var channels = new[] { new ChannelBytes(0, compression), new ChannelBytes(1, compression) };
        channels[0].Sync().Pages("pc.ram", [0, 2, 4], seed: 1).Pages("pc.ram", [6], seed: 9).Sync();
        channels[1].Sync().Pages("pc.ram", [1, 3], seed: 5).Sync();

        var sink = await ReadAsync(MainStream(zeroPage: 5), compression, channels);

        foreach (var (page, seed) in new[] { (0, 1), (2, 2), (4, 3), (6, 9), (1, 5), (3, 6) })
        {
            Assert.Equal(ChannelBytes.PageData(seed), sink.Page(page));
        }

        Assert.All(sink.Page(5), b => Assert.Equal(0, b));
        Assert.Equal(6, sink.MultifdPages);
    }

    [Theory]
    [InlineData(MultifdCompression.Zlib)]
    [InlineData(MultifdCompression.Zstd)]
    public async Task ManyIncompressiblePackets_OneStreamPerChannelAcrossThem_EveryPageLands(MultifdCompression compression)
    {
        // Random pages compress to more than they are: a packet's payload ends in the middle of the decompressor's
        // reads, and what it has not read of one packet must be the start of the next.
        var random = new Random(7);
        var channel = new ChannelBytes(0, compression).Sync();
        var expected = new Dictionary<int, byte[]>();
        for (var packet = 0; packet < 12; packet++)
        {
            // Packets of 7 to 63 pages, some rewriting pages an earlier packet carried (the later one wins).
            var count = 7 + (packet * 5 % 57);
            var pages = Enumerable.Range((packet * 3) % (BlockPages - count), count).ToArray();
            var data = pages.Select(_ => { var bytes = new byte[PageSize]; random.NextBytes(bytes); return bytes; }).ToArray();
            channel.Pages("pc.ram", [.. pages.Select(p => (long)p)], data);
            for (var i = 0; i < pages.Length; i++)
            {
                expected[pages[i]] = data[i];
            }
        }

        var sink = await ReadAsync(MainStream(), compression, [channel.Sync()]);

        foreach (var (page, data) in expected)
        {
            Assert.True(data.AsSpan().SequenceEqual(sink.Page(page)), $"page {page} differs");
        }
    }

    public static TheoryData<string, string> BadChannels => new()
    {
        { "hello magic", "multifd: received packet magic 11223345 expected 11223344" },
        { "hello version", "multifd: received packet version 2 expected 1" },
        { "hello uuid", "multifd: received uuid '01000000-0000-0000-0000-000000000000' and expected uuid '00000000-0000-0000-0000-000000000000' for channel 0" },
        { "channel id", "multifd: received channel id 7, but this destination expects 2 channels (ids 0 to 1)" },
        { "channel twice", "multifd: channel 0 connected twice" },
        { "packet magic", "multifd: received packet magic 1 and expected magic 11223344 (channel 0)" },
        { "packet version", "multifd: received packet version 9 and expected version 1 (channel 0)" },
        { "pages allocated", "multifd: received packet with size 129 and expected a size of 128 (channel 0)" },
        { "pages over allocated", "multifd: received packet with 100 pages and expected maximum pages are 64 (channel 0)" },
        { "offset past block", $"multifd: offset too long {BlockPages * PageSize} (max {BlockPages * PageSize:x}) (channel 0)" },
        { "unknown block", "multifd: unknown ram block nope" },
        { "truncated header", "multifd 0: truncated packet: the channel ended 100 bytes into a 1344-byte packet header" },
        { "truncated payload", $"multifd 0: truncated packet: the channel ended {PageSize + 10} bytes into a payload of {2 * PageSize} bytes" },
        { "compression flag", "multifd 0: flags received 2 flags expected 0" },
        { "not a channel", "neither a migration stream (QEVM) nor a multifd channel" },
    };

    [Theory]
    [MemberData(nameof(BadChannels))]
    public async Task BadChannel_FailsWithAClearMessage(string what, string expected)
    {
        var channels = new[] { new ChannelBytes(0, MultifdCompression.None), new ChannelBytes(1, MultifdCompression.None) };
        channels[1].Sync().Sync();
        var bad = channels[0];
        switch (what)
        {
            case "hello magic":
                bad.Patch(3, 0x45);
                break;
            case "hello version":
                bad.Patch(7, 2);
                break;
            case "hello uuid":
                bad.Patch(8, 1);
                break;
            case "channel id":
                bad.Patch(24, 7);
                break;
            case "channel twice":
                channels[1] = new ChannelBytes(0, MultifdCompression.None);
                break;
            case "packet magic":
                bad.Sync();
                bad.Patch(Multifd.HelloLength, 0, 0, 0, 1);
                break;
            case "packet version":
                bad.Sync();
                bad.Patch(Multifd.HelloLength + 7, 9);
                break;
            case "pages allocated":
                bad.Sync().Pages("pc.ram", [0], seed: 1);
                bad.Patch(Multifd.HelloLength + Multifd.PacketHeaderLength + 15, 129);
                break;
            case "pages over allocated":
                bad.Sync().Pages("pc.ram", [0], seed: 1);
                bad.Patch(Multifd.HelloLength + Multifd.PacketHeaderLength + 15, 64);
                bad.Patch(Multifd.HelloLength + Multifd.PacketHeaderLength + 19, 100);
                break;
            case "offset past block":
                bad.Sync().Pages("pc.ram", [BlockPages], seed: 1);
                break;
            case "unknown block":
                bad.Sync().Pages("nope", [0], seed: 1);
                break;
            case "truncated header":
                bad.Sync().Raw(new byte[100]);
                break;
            case "truncated payload":
                bad.Sync().Pages("pc.ram", [0, 1], seed: 1).Cut(PageSize - 10);
                break;
            case "compression flag":
                bad.Sync().Pages("pc.ram", [0], seed: 1);
                bad.Patch(Multifd.HelloLength + Multifd.PacketHeaderLength + 11, 2);
                break;
            case "not a channel":
                channels[1] = new ChannelBytes(1, MultifdCompression.None, hello: false).Raw([1, 2, 3, 4, 5]);
                break;
        }

        var error = await ReadErrorAsync(MainStream(), channels, listenerChannels: what == "not a channel");

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CorruptZstdPayload_FailsWithAClearMessage()
    {
        var channel = new ChannelBytes(0, MultifdCompression.Zstd).Sync().Pages("pc.ram", [0], seed: 1);
        // The zstd frame's magic number, at the start of the channel's first payload.
        channel.Patch(Multifd.HelloLength + (2 * Multifd.PacketHeaderLength), 0xFF, 0xFF, 0xFF, 0xFF);

        var error = await ReadErrorAsync(MainStream(), [channel], MultifdCompression.Zstd);

        Assert.StartsWith("multifd 0: decompressStream", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingChannel_TimesOutWithAMessageNamingIt()
    {
        var clock = new FakeTimeProvider();
        var present = new ChannelBytes(0, MultifdCompression.None).Sync().Sync();
        await using var receiver = new MultifdReceiver(2, MultifdCompression.None, time: clock);
        receiver.AddChannel(PipeReader.Create(new ReadOnlySequence<byte>(present.ToArray())), CancellationToken.None);
        var reader = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(MainStream())), new MemorySink(), multifd: receiver);

        var reading = reader.ReadToEndAsync(CancellationToken.None);
        await Eventually.Until(() => reading.IsCompleted || receiver.Connected == 1, Bound);
        while (!reading.IsCompleted)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(reading, Task.Delay(5));
        }

        var error = await Assert.ThrowsAsync<MigrationStreamException>(() => reading);
        Assert.Equal("multifd: 1 of 2 channels connected within 30 s (missing: 1); the source must use the same multifd-channels as this destination", error.Message);
    }

    /// <summary>Header, configuration, a RAM setup of one 64-page block, a part with one zero page, EOS, footer, EOF.</summary>
    private static byte[] MainStream(int zeroPage = 63) =>
        new StreamBytes().Header().Configuration().RamSetup(1, ("pc.ram", BlockPages * PageSize))
            .U8(QemuFormat.SectionPart).Be32(1).Be64(((ulong)zeroPage * PageSize) | QemuFormat.RamFlagZero).Counted("pc.ram").U8(0)
            .Be64(QemuFormat.RamFlagEos).Footer(1).U8(QemuFormat.Eof).ToArray();

    private static async Task<MemorySink> ReadAsync(byte[] main, MultifdCompression compression, ChannelBytes[] channels)
    {
        var sink = new MemorySink();
        await using var receiver = new MultifdReceiver(channels.Length, compression);
        foreach (var channel in channels)
        {
            receiver.AddChannel(PipeReader.Create(new ReadOnlySequence<byte>(channel.ToArray())), CancellationToken.None);
        }

        var reader = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(main)), sink, multifd: receiver);
        await reader.ReadToEndAsync(CancellationToken.None).WaitAsync(Bound);
        sink.MultifdPages = receiver.Pages;
        return sink;
    }

    private static async Task<MigrationStreamException> ReadErrorAsync(
        byte[] main, ChannelBytes[] channels, MultifdCompression compression = MultifdCompression.None, bool listenerChannels = false)
    {
        await using var receiver = new MultifdReceiver(channels.Length, compression);
        if (listenerChannels)
        {
            // Through a listener: the connections are told apart by their first bytes.
            var path = Path.Combine(Path.GetTempPath(), $"mfd-{Guid.NewGuid():N}.sock")[..Math.Min(100, Path.Combine(Path.GetTempPath(), $"mfd-{Guid.NewGuid():N}.sock").Length)];
            var uri = Transports.MigrationUri.Parse("unix:" + path);
            await using var listener = Transports.MigrationChannel.ListenMany(uri);
            var accepted = Transports.MultifdConnections.AcceptAsync(listener, receiver, channels.Length, CancellationToken.None);
            foreach (var bytes in channels.Select(c => c.ToArray()).Prepend(main))
            {
                var connection = await Transports.MigrationChannel.ConnectAsync(uri, CancellationToken.None);
                await connection.Output.WriteAsync(bytes);
                await connection.Output.CompleteAsync();
            }

            var error = await Record.ExceptionAsync(async () =>
            {
                var (input, _) = await accepted.WaitAsync(Bound);
                await new MigrationStreamReader(input, new MemorySink(), multifd: receiver).ReadToEndAsync(CancellationToken.None).WaitAsync(Bound);
            });
            return Assert.IsType<MigrationStreamException>(error);
        }

        foreach (var channel in channels)
        {
            receiver.AddChannel(PipeReader.Create(new ReadOnlySequence<byte>(channel.ToArray())), CancellationToken.None);
        }

        var reader = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(main)), new MemorySink(), multifd: receiver);
        return await Assert.ThrowsAsync<MigrationStreamException>(() => reader.ReadToEndAsync(CancellationToken.None).WaitAsync(Bound));
    }

    /// <summary>One channel's bytes: its hello, then packets made as a QEMU 7.2 source makes them.</summary>
    private sealed class ChannelBytes
    {
        private readonly List<byte> _bytes = [];
        private readonly MultifdCompression _compression;
        private readonly MultifdPacketEncoder? _encoder;
        private ulong _number;

        public ChannelBytes(byte id, MultifdCompression compression, bool hello = true)
        {
            _compression = compression;
            _encoder = compression == MultifdCompression.None ? null : new MultifdPacketEncoder(compression, 1);
            if (hello)
            {
                var bytes = new byte[Multifd.HelloLength];
                Multifd.WriteHello(bytes, new byte[16], id);
                _bytes.AddRange(bytes);
            }
        }

        public static byte[] PageData(int seed) => [.. Enumerable.Range(0, PageSize).Select(i => (byte)((i * 31) + (seed * 7) + 1))];

        public ChannelBytes Sync() => Packet(Multifd.FlagSync, "", [], []);

        public ChannelBytes Pages(string block, long[] pages, int seed) => Pages(block, pages, [.. pages.Select((_, i) => PageData(seed + i))]);

        public ChannelBytes Pages(string block, long[] pages, byte[][] data) => Packet(0, block, [.. pages.Select(p => p * PageSize)], data);

        public ChannelBytes Raw(byte[] bytes)
        {
            _bytes.AddRange(bytes);
            return this;
        }

        public void Patch(int at, params byte[] bytes)
        {
            for (var i = 0; i < bytes.Length; i++)
            {
                _bytes[at + i] = bytes[i];
            }
        }

        public void Cut(int count) => _bytes.RemoveRange(_bytes.Count - count, count);

        public byte[] ToArray() => [.. _bytes];

        private ChannelBytes Packet(uint flags, string block, long[] offsets, byte[][] pages)
        {
            byte[] payload;
            if (_encoder is null || pages.Length == 0)
            {
                payload = [.. pages.SelectMany(p => p)];
            }
            else
            {
                _encoder.Begin();
                foreach (var page in pages)
                {
                    _encoder.Add(page);
                }

                payload = _encoder.Finish().ToArray();
                flags |= Multifd.CompressionFlag(_compression);
            }

            var header = new byte[Multifd.PacketHeaderLength];
            Multifd.WritePacketHeader(header, flags, offsets, payload.Length, _number++, System.Text.Encoding.UTF8.GetBytes(block));
            _bytes.AddRange(header);
            _bytes.AddRange(payload);
            return this;
        }
    }

    /// <summary>One block's memory, taking pages from the main stream and from the channels.</summary>
    private sealed class MemorySink : IMigrationStreamSink, IMultifdPageSink
    {
        private readonly byte[] _memory = new byte[BlockPages * PageSize];

        public long MultifdPages { get; set; }

        public byte[] Page(int page) => _memory.AsSpan(page * PageSize, PageSize).ToArray();

        public void OnConfiguration(string machineType)
        {
        }

        public void OnRamBlocks(IReadOnlyList<RamBlockHeader> blocks)
        {
        }

        public void OnZeroPage(int block, long offset, byte fill) => _memory.AsSpan((int)offset, PageSize).Fill(fill);

        public void OnPage(int block, long offset, ReadOnlySequence<byte> data) => data.CopyTo(_memory.AsSpan((int)offset, PageSize));

        public Span<byte> MultifdPage(int block, long offset) => _memory.AsSpan((int)offset, PageSize);

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
}
