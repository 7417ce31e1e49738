using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Wire;

/// <summary>A stream that stops early is told apart by its type, not by its message; a stream that says something wrong is not one.</summary>
public sealed class TruncatedStreamTests
{
    private static StreamBytes AfterSetup() =>
        new StreamBytes().Header().Configuration().RamSetup(1, ("pc.ram", 4 * QemuFormat.TargetPageSize));

    public static TheoryData<string, byte[]> TruncatedStreams() => new()
    {
        { "inside the file header", new StreamBytes().Be32(QemuFormat.FileMagic).U8(0).ToArray() },
        { "inside a page record", AfterSetup().U8(QemuFormat.SectionPart).Be32(1).Be64(QemuFormat.RamFlagPage).Counted("pc.ram").Raw(new byte[100]).ToArray() },
        { "before EOF", AfterSetup().ToArray() },
    };

    [Theory]
    [MemberData(nameof(TruncatedStreams))]
    public async Task Read_StreamEndsEarly_ThrowsTruncatedStreamException(string where, byte[] stream)
    {
        var error = await Streams.ReadErrorAsync(stream);

        Assert.True(error is TruncatedStreamException, $"ended {where}: {error.GetType().Name}: {error.Message}");
    }

    [Fact]
    public async Task Read_WrongMagic_IsNotTruncated()
    {
        var error = await Streams.ReadErrorAsync(new StreamBytes().Be32(0x51455646).Be32(3).ToArray());

        Assert.IsNotType<TruncatedStreamException>(error);
    }
}
