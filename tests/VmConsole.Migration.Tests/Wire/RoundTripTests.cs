using System.IO.Pipelines;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Wire;

/// <summary>Random streams written by the writer and read back by the reader, whole and in arbitrary pieces.</summary>
public sealed class RoundTripTests
{
    private const int PageSize = QemuFormat.TargetPageSize;

    /// <summary>idstr pieces: QEMU-like names, separators, multibyte UTF-8 (2, 3 and 4 bytes).</summary>
    private static readonly Gen<string> IdStrPiece = Gen.OneOf(
        Gen.Elements("pc.ram", "microvm.ram", "/rom@etc/acpi/tables", "pc.bios", "/", "@", "ß", "日本", "😀", "mem1", "0000:00:02.0/vga.vram"),
        Gen.Choose('a', 'z').Select(c => ((char)c).ToString()));

    private static readonly Gen<string> IdStrGen =
        Gen.Choose(1, 6).SelectMany(count => Gen.ArrayOf(IdStrPiece, count)).Select(pieces => FitIdStr(string.Concat(pieces)));

    /// <summary>1 to 8 blocks with distinct idstrs and used lengths up to 4 MiB.</summary>
    private static readonly Gen<RamBlockHeader[]> BlocksGen =
        from count in Gen.Choose(1, 8)
        from ids in Gen.ArrayOf(IdStrGen, count)
        from pages in Gen.ArrayOf(Gen.OneOf(Gen.Choose(1, 4), Gen.Choose(1, 1024)), count)
        select ids.Select((id, i) => new RamBlockHeader(Unique(ids, id, i), pages[i] * (long)PageSize)).ToArray();

    private static readonly Gen<Scenario> ScenarioGen =
        from blocks in BlocksGen
        from sections in Gen.Choose(0, 3).SelectMany(count => Gen.ArrayOf(SectionGen(blocks), count))
        from end in SectionGen(blocks)
        from state in Gen.OneOf(Gen.Constant<byte[]?>(null), Gen.Choose(0, 9000).Select(n => (byte[]?)Streams.PageData(n)[..(n % 4097)]))
        from description in Gen.OneOf(
            Gen.Constant<string?>(null),
            ArbMap.Default.GeneratorFor<UnicodeString>().Select(s => (string?)ValidUtf16(s.Item ?? "")))
        select new Scenario(blocks, sections, end, state, description);

    private static readonly Gen<PipeOptions> PipeOptionsGen =
        from segment in Gen.Elements(16, 64, 1000, 4096)
        from pause in Gen.Elements(1024, 8192, 65536)
        select new PipeOptions(pauseWriterThreshold: pause, resumeWriterThreshold: pause / 2, minimumSegmentSize: segment, useSynchronizationContext: false);

    [Property(MaxTest = 100)]
    public Property WriteThenRead_RandomStreamThroughSmallPipe_SinkSeesSameSequence() =>
        Prop.ForAll(ScenarioGen.ToArbitrary(), PipeOptionsGen.ToArbitrary(), (scenario, options) =>
        {
            var pipe = new Pipe(options);
            var sink = new RecordingSink();
            var reader = new MigrationStreamReader(pipe.Reader, sink);
            var reading = Task.Run(() => reader.ReadToEndAsync(CancellationToken.None));
            var writer = new MigrationStreamWriter(pipe.Writer);

            var writing = Task.Run(async () =>
            {
                await scenario.WriteAsync(writer, flushEachRecord: true);
                await pipe.Writer.CompleteAsync();
            });
            Task.WhenAll(writing, reading).WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();

            var expected = scenario.ExpectedEvents();
            return (sink.Events.SequenceEqual(expected) && reader.BytesRead == writer.BytesWritten)
                .Label($"{scenario}; wrote {writer.BytesWritten}, read {reader.BytesRead}; first difference at event {FirstDifference(expected, sink.Events)}");
        });

    [Property(MaxTest = 100)]
    public Property WriteThenRead_RandomStreamInArbitraryChunks_SinkSeesSameSequence() =>
        Prop.ForAll(
            ScenarioGen.ToArbitrary(),
            Gen.Elements(1, 3, 7, 100, 5000).ToArbitrary(),
            ArbMap.Default.GeneratorFor<int>().ToArbitrary(),
            (scenario, maxChunk, seed) =>
            {
                var stream = Streams.Write(writer => scenario.WriteAsync(writer, flushEachRecord: false).AsTask().GetAwaiter().GetResult());

                var sink = Streams.ReadChunkedAsync(stream, maxChunk, seed).GetAwaiter().GetResult();

                var expected = scenario.ExpectedEvents();
                return sink.Events.SequenceEqual(expected)
                    .Label($"{scenario}; chunks up to {maxChunk}; first difference at event {FirstDifference(expected, sink.Events)}");
            });

    private static Gen<Record[]> SectionGen(RamBlockHeader[] blocks) =>
        Gen.Choose(0, 30).SelectMany(count => Gen.ArrayOf(RecordGen(blocks), count));

    /// <summary>A record for a random block; many land on the previous record's block, so CONTINUE is common.</summary>
    private static Gen<Record> RecordGen(RamBlockHeader[] blocks) =>
        from block in Gen.OneOf(Gen.Choose(0, blocks.Length - 1), Gen.Constant(-1))
        from pageFraction in Gen.Choose(0, int.MaxValue)
        from zero in Gen.Elements(false, true)
        from value in Gen.Choose(0, 255)
        select new Record(block, pageFraction, zero, (byte)value);

    private static string FitIdStr(string idStr)
    {
        var bytes = Encoding.UTF8.GetBytes(idStr);
        while (bytes.Length > 255)
        {
            idStr = idStr[..^1];
            if (char.IsHighSurrogate(idStr[^1]))
            {
                idStr = idStr[..^1];
            }

            bytes = Encoding.UTF8.GetBytes(idStr);
        }

        return idStr;
    }

    private static string Unique(string[] ids, string id, int index) =>
        Array.IndexOf(ids, id) == index ? id : FitIdStr($"{index}@{id}");

    private static string ValidUtf16(string text) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));

    private static int FirstDifference(List<string> expected, List<string> actual) =>
        Enumerable.Range(0, Math.Max(expected.Count, actual.Count))
            .FirstOrDefault(i => i >= expected.Count || i >= actual.Count || expected[i] != actual[i], -1);

    /// <summary>
    /// A page record: <see cref="Block"/> -1 means the previous record's block (block 0 first); the page within the
    /// block is <see cref="PageFraction"/> modulo its page count.
    /// </summary>
    internal sealed record Record(int Block, int PageFraction, bool Zero, byte Value);

    internal sealed record Scenario(RamBlockHeader[] Blocks, Record[][] Parts, Record[] End, byte[]? State, string? Description)
    {
        public async ValueTask WriteAsync(MigrationStreamWriter writer, bool flushEachRecord)
        {
            writer.WriteHeader();
            writer.WriteConfiguration("pc-q35-7.2");
            writer.WriteRamSetup(3, Blocks);
            await Flush();
            foreach (var (records, end) in Sections())
            {
                writer.BeginRamSection(3, end);
                foreach (var (block, offset, record) in Resolve(records))
                {
                    if (record.Zero)
                    {
                        writer.WriteZeroPage(block, offset, record.Value);
                    }
                    else
                    {
                        writer.WritePage(block, offset, Streams.PageData(record.Value * 31 + block));
                    }

                    await Flush();
                }

                writer.EndRamSection(3);
                await Flush();
            }

            if (State is not null)
            {
                writer.WriteVmConsoleState(4, State);
            }

            writer.WriteEof();
            if (Description is not null)
            {
                writer.WriteVmDescription(Description);
            }

            await Flush();

            async ValueTask Flush()
            {
                if (flushEachRecord)
                {
                    await writer.FlushAsync(CancellationToken.None);
                }
            }
        }

        public List<string> ExpectedEvents()
        {
            var events = new List<string> { "config pc-q35-7.2", RecordingSink.Blocks(Blocks) };
            foreach (var (records, end) in Sections())
            {
                foreach (var (block, offset, record) in Resolve(records))
                {
                    events.Add(record.Zero
                        ? RecordingSink.Zero(block, offset, record.Value)
                        : RecordingSink.Page(block, offset, Streams.PageData(record.Value * 31 + block)));
                }

                events.Add(end ? "end" : "part");
            }

            if (State is not null)
            {
                events.Add(RecordingSink.State(State));
            }

            events.Add("eof");
            if (Description is not null)
            {
                events.Add($"description {Description}");
            }

            return events;
        }

        public override string ToString() =>
            $"blocks [{string.Join(", ", Blocks.Select(b => $"{b.IdStr}={b.UsedLength:x}"))}], parts [{string.Join(", ", Parts.Select(p => p.Length))}], " +
            $"end {End.Length}, state {State?.Length.ToString() ?? "none"}, description {Description?.Length.ToString() ?? "none"}";

        private IEnumerable<(Record[] Records, bool End)> Sections() => Parts.Select(p => (p, false)).Append((End, true));

        private IEnumerable<(int Block, long Offset, Record Record)> Resolve(Record[] records)
        {
            var previous = 0;
            foreach (var record in records)
            {
                var block = record.Block < 0 ? previous : record.Block;
                var pages = Blocks[block].UsedLength / PageSize;
                previous = block;
                yield return (block, record.PageFraction % pages * PageSize, record);
            }
        }
    }
}
