using System.Buffers;
using System.IO.Pipelines;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Wire;

/// <summary>Cut, damaged and hostile streams: always a clean read or a <see cref="MigrationStreamException"/>, never more.</summary>
public sealed class MalformedStreamTests
{
    [Fact]
    public async Task Read_CutAtEveryOffset_TruncatedOrCleanWhenCutAfterEof()
    {
        var stream = Streams.SmallValidStream();
        var eofEnd = Streams.SmallValidStream(withDescription: false).Length;
        var wrong = new List<string>();

        for (var cut = 0; cut < stream.Length; cut++)
        {
            var sink = new RecordingSink();
            var reader = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(stream, 0, cut)), sink);
            try
            {
                await reader.ReadToEndAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
                if (cut != eofEnd || sink.Events[^1] != "eof")
                {
                    wrong.Add($"cut at {cut}: read cleanly");
                }
            }
            catch (MigrationStreamException ex) when (ex.Message.StartsWith($"truncated migration stream: it ended at byte {cut} while reading ", StringComparison.Ordinal))
            {
                if (cut == eofEnd)
                {
                    wrong.Add($"cut at {cut}, right after EOF: {ex.Message}");
                }
            }
            catch (Exception ex)
            {
                wrong.Add($"cut at {cut}: {ex.GetType().Name}: {ex.Message}");
            }
        }

        Assert.Empty(wrong);
        var (whole, _) = await Streams.ReadAsync(stream);
        Assert.Equal("description {\"devices\":[]}", whole.Events[^1]);
    }

    [Fact]
    public async Task Read_EveryByteFlippedInTurn_CleanReadOrMigrationStreamException()
    {
        var stream = Streams.SmallValidStream();
        var wrong = new List<string>();
        var refused = 0;

        for (var i = 0; i < stream.Length; i++)
        {
            var damaged = (byte[])stream.Clone();
            damaged[i] ^= 0xFF;
            var outcome = await TryReadAsync(damaged);
            if (outcome is MigrationStreamException)
            {
                refused++;
            }
            else if (outcome is not null)
            {
                wrong.Add($"byte {i}: {outcome.GetType().Name}: {outcome.Message}");
            }
        }

        Assert.Empty(wrong);
        // Flips inside page data and payloads are legal; flips in the framing must be refused.
        Assert.InRange(refused, 100, stream.Length);
    }

    [Property(MaxTest = 500)]
    public Property Read_RandomDamage_CleanReadOrMigrationStreamException() =>
        Prop.ForAll(
            Gen.Choose(1, 4).SelectMany(count => Gen.ArrayOf(
                from position in Gen.Choose(0, int.MaxValue)
                from value in Gen.Choose(0, 255)
                select (position, value), count)).ToArbitrary(),
            changes =>
            {
                var damaged = Streams.SmallValidStream();
                foreach (var (position, value) in changes)
                {
                    damaged[position % damaged.Length] = (byte)value;
                }

                var outcome = TryReadAsync(damaged).GetAwaiter().GetResult();
                return (outcome is null or MigrationStreamException).Label($"{outcome?.GetType().Name}: {outcome?.Message}");
            });

    [Fact]
    public async Task Read_IdStrLengthByte255_BoundedByTheByte()
    {
        var stream = new StreamBytes().Header().Configuration().RamSetup(1, ("pc.ram", 4096))
            .U8(QemuFormat.SectionPart).Be32(1).Be64(QemuFormat.RamFlagZero).U8(255).Raw(new byte[255]).U8(0);

        var error = await Streams.ReadErrorAsync(stream.ToArray());

        Assert.Equal("Can't find block " + new string('\0', 255), error.Message);
    }

    public static TheoryData<string, byte[]> HostileStreams() => new()
    {
        { "total 2^62", Setup().Be64((1UL << 62) | QemuFormat.RamFlagMemSize).ToArray() },
        { "total at the limit, then one block", Setup().Be64((16UL << 40) | QemuFormat.RamFlagMemSize).Counted("pc.ram").Be64(4096).ToArray() },
        { "machine type 0xFFFFFFFF", new StreamBytes().Header().U8(QemuFormat.Configuration).Be32(0xFFFF_FFFF).ToArray() },
        { "device state 0x7FFFFFFF", State().Be32(0x7FFF_FFFF).Raw(new byte[1000]).ToArray() },
        { "device state at the limit, cut short", State().Be32(1 << 20).Raw(new byte[1000]).ToArray() },
        { "description 0x7FFFFFFF", AfterEof().Be32(0x7FFF_FFFF).Raw(new byte[1000]).ToArray() },
        { "description 0xFFFFFFFF", AfterEof().Be32(0xFFFF_FFFF).ToArray() },
        { "description at the limit, cut short", AfterEof().Be32(16 << 20).Raw(new byte[10_000]).ToArray() },
    };

    /// <summary>The read runs synchronously over an in-memory sequence, so this thread's allocations are all of it.</summary>
    [Theory]
    [MemberData(nameof(HostileStreams))]
    public void Read_HostileLength_RefusedWithBoundedAllocation(string name, byte[] stream)
    {
        ReadSynchronously(stream); // Warm-up: JIT and pools.

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = ReadSynchronously(stream);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.IsAssignableFrom<MigrationStreamException>(error);
        Assert.True(allocated < 256 * 1024, $"{name}: {allocated} bytes allocated; {error.Message}");
    }

    [Fact]
    public async Task Read_ByteOtherThanDescriptionAfterEof_CleanReadThatStopsThere()
    {
        var stream = new StreamBytes().Header().Configuration().RamSetup(1, ("pc.ram", 4096)).U8(QemuFormat.Eof).U8(0x42).Raw(new byte[10]);

        var (sink, reader) = await Streams.ReadAsync(stream.ToArray());

        Assert.Equal(["config microvm", "blocks pc.ram=1000", "eof"], sink.Events);
        Assert.Equal(stream.Length - 11, reader.BytesRead);
    }

    [Fact]
    public async Task Read_StreamOpenAfterEof_WaitsForDescriptionOrEnd()
    {
        var pipe = new Pipe();
        var sink = new RecordingSink();
        var reader = new MigrationStreamReader(pipe.Reader, sink);
        await pipe.Writer.WriteAsync(new StreamBytes().Header().Configuration().RamSetup(1, ("pc.ram", 4096)).U8(QemuFormat.Eof).ToArray());

        var reading = reader.ReadToEndAsync(CancellationToken.None);
        await Task.Delay(50);
        var doneBeforeEnd = reading.IsCompleted;
        await pipe.Writer.CompleteAsync();
        await reading.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(doneBeforeEnd);
        Assert.Equal("eof", sink.Events[^1]);
    }

    private static StreamBytes Setup() =>
        new StreamBytes().Header().Configuration().SectionStart(QemuFormat.SectionStart, 1, "ram", 0, 4);

    private static StreamBytes State() =>
        new StreamBytes().Header().Configuration().SectionStart(QemuFormat.SectionFull, 2, "vmconsole/state", 0, 1);

    private static StreamBytes AfterEof() =>
        new StreamBytes().Header().Configuration().RamSetup(1, ("pc.ram", 4096)).U8(QemuFormat.Eof).U8(QemuFormat.VmDescription);

    private static Exception ReadSynchronously(byte[] stream)
    {
        var reader = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(stream)), new RecordingSink { Quiet = true });
        var reading = reader.ReadToEndAsync(CancellationToken.None);
        Assert.True(reading.IsCompleted, "the read over an in-memory sequence should finish without waiting");
        return Assert.IsAssignableFrom<MigrationStreamException>(reading.Exception?.InnerException);
    }

    /// <summary>Null for a clean read, else the exception the read ended with.</summary>
    private static async Task<Exception?> TryReadAsync(byte[] stream)
    {
        var reader = new MigrationStreamReader(PipeReader.Create(new ReadOnlySequence<byte>(stream)), new RecordingSink());
        try
        {
            await reader.ReadToEndAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }
}
