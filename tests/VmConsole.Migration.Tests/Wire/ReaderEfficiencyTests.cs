using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Wire;

/// <summary>The reader hands pages over without copying and allocates nothing per page.</summary>
public sealed class ReaderEfficiencyTests
{
    private const int PageSize = QemuFormat.TargetPageSize;

    [Fact]
    public void ReadToEndAsync_TwoThousandPages_AllocatesUnder16KiB()
    {
        var stream = Streams.Write(writer =>
        {
            var data = Streams.PageData(3);
            writer.WriteHeader();
            writer.WriteConfiguration("pc-q35-7.2");
            writer.WriteRamSetup(1, [new("pc.ram", 64 * PageSize), new("/rom@etc/acpi/tables", 2 * PageSize)]);
            for (var part = 0; part < 20; part++)
            {
                writer.BeginRamSection(1, end: part == 19);
                for (var i = 0; i < 100; i++)
                {
                    // Alternating blocks: most records carry an idstr that must be looked up.
                    var block = i % 3 == 0 ? 1 : 0;
                    var offset = i % (block == 0 ? 64 : 2) * PageSize;
                    if (i % 4 == 0)
                    {
                        writer.WriteZeroPage(block, offset, 0);
                    }
                    else
                    {
                        writer.WritePage(block, offset, data);
                    }
                }

                writer.EndRamSection(1);
            }

            writer.WriteEof();
        });
        ReadQuietly(stream); // Warm-up: JIT and tiering.

        var before = GC.GetAllocatedBytesForCurrentThread();
        var sink = ReadQuietly(stream);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(2000, sink.Pages);
        Assert.True(allocated < 16 * 1024, $"{allocated} bytes allocated reading 2,000 page records");
    }

    [Fact]
    public async Task OnPage_Data_IsASliceOfThePipesBufferNotACopy()
    {
        var stream = Streams.SmallValidStream();
        var sink = new SliceCheckingSink(stream);

        await new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(stream)), sink).ReadToEndAsync(CancellationToken.None);

        Assert.Equal(2, sink.Pages);
        Assert.Equal(0, sink.Copies);
    }

    private static RecordingSink ReadQuietly(byte[] stream)
    {
        var sink = new RecordingSink { Quiet = true };
        var reading = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(stream)), sink).ReadToEndAsync(CancellationToken.None);
        Assert.True(reading.IsCompletedSuccessfully, "the read over an in-memory sequence should finish without waiting");
        return sink;
    }

    /// <summary>Counts pages whose data is not a view of the original stream array.</summary>
    private sealed class SliceCheckingSink(byte[] stream) : IMigrationStreamSink
    {
        public int Pages { get; private set; }

        public int Copies { get; private set; }

        public void OnPage(int block, long offset, ReadOnlySequence<byte> data)
        {
            Pages++;
            Assert.Equal(PageSize, data.Length);
            if (!MemoryMarshal.TryGetArray(data.First, out var segment) || !ReferenceEquals(segment.Array, stream))
            {
                Copies++;
            }
        }

        public void OnConfiguration(string machineType)
        {
        }

        public void OnRamBlocks(IReadOnlyList<RamBlockHeader> blocks)
        {
        }

        public void OnZeroPage(int block, long offset, byte fill)
        {
        }

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
