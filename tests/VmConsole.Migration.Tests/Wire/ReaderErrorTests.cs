using System.IO.Pipelines;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Wire;

/// <summary>Every way the reader refuses a stream, each with its exact message (QEMU's words where QEMU has them).</summary>
public sealed class ReaderErrorTests
{
    private const int PageSize = QemuFormat.TargetPageSize;

    private const string UnknownSectionAdvice =
        "Make sure that your current VM setup matches your saved VM setup, including any hotplugged devices";

    /// <summary>Header, configuration and a RAM setup (section 1) with "pc.ram" of 4 pages and "pc.bios" of 1.</summary>
    private static StreamBytes AfterSetup() =>
        new StreamBytes().Header().Configuration().RamSetup(1, ("pc.ram", 4 * PageSize), ("pc.bios", PageSize));

    /// <summary><see cref="AfterSetup"/>, then a RAM part of section 1 opened.</summary>
    private static StreamBytes InRamPart() => AfterSetup().U8(QemuFormat.SectionPart).Be32(1);

    /// <summary>Header, configuration, then a RAM section start up to its MEM_SIZE record.</summary>
    private static StreamBytes SetupStart() =>
        new StreamBytes().Header().Configuration().SectionStart(QemuFormat.SectionStart, 1, "ram", 0, 4);

    private static async Task AssertErrorAsync(StreamBytes stream, string message, MigrationStreamLimits? limits = null)
    {
        var error = await Streams.ReadErrorAsync(stream.ToArray(), limits);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public Task Read_WrongMagic_NotAMigrationStream() =>
        AssertErrorAsync(new StreamBytes().Be32(0x51455646).Be32(3), "Not a migration stream");

    [Fact]
    public Task Read_Version2_Obsolete() =>
        AssertErrorAsync(new StreamBytes().Be32(QemuFormat.FileMagic).Be32(2), "SaveVM v2 format is obsolete and don't work anymore");

    [Fact]
    public Task Read_Version4_Unsupported() =>
        AssertErrorAsync(new StreamBytes().Be32(QemuFormat.FileMagic).Be32(4), "Unsupported migration stream version");

    [Fact]
    public Task Read_EndsInsideHeader_TruncatedAtThatByte() =>
        AssertErrorAsync(
            new StreamBytes().Be32(QemuFormat.FileMagic).U8(0),
            "truncated migration stream: it ended at byte 5 while reading the file header (from byte 0)");

    [Fact]
    public Task Read_EndsInsidePageData_TruncatedNamesRecordAndOffsets()
    {
        var stream = InRamPart().Be64(QemuFormat.RamFlagPage).Counted("pc.ram").Raw(new byte[100]);
        var recordStart = stream.Length - 100 - 1 - 6 - 8;
        return AssertErrorAsync(
            stream,
            $"truncated migration stream: it ended at byte {stream.Length} while reading a RAM page record (from byte {recordStart})");
    }

    [Fact]
    public Task Read_EndsBeforeEof_Truncated()
    {
        var stream = AfterSetup();
        return AssertErrorAsync(
            stream,
            $"truncated migration stream: it ended at byte {stream.Length} while reading a section header (the stream has not reached EOF) (from byte {stream.Length})");
    }

    [Fact]
    public Task Read_NoConfigurationAfterHeader_ConfigurationSectionMissing() =>
        AssertErrorAsync(new StreamBytes().Header().U8(QemuFormat.Eof), "Configuration section missing");

    [Fact]
    public Task Read_UnknownSectionIdStr_UnknownSectionOrInstance() =>
        AssertErrorAsync(
            new StreamBytes().Header().Configuration().SectionStart(QemuFormat.SectionFull, 2, "timer", 0, 2),
            $"Unknown savevm section or instance 'timer' 0. {UnknownSectionAdvice}");

    [Fact]
    public Task Read_RamWithInstance1_UnknownSectionOrInstance() =>
        AssertErrorAsync(
            new StreamBytes().Header().Configuration().SectionStart(QemuFormat.SectionStart, 1, "ram", 1, 4),
            $"Unknown savevm section or instance 'ram' 1. {UnknownSectionAdvice}");

    [Fact]
    public Task Read_RamVersion3_UnsupportedVersion() =>
        AssertErrorAsync(
            new StreamBytes().Header().Configuration().SectionStart(QemuFormat.SectionStart, 1, "ram", 0, 3),
            "savevm: unsupported version 3 for 'ram' v4");

    [Fact]
    public Task Read_VmConsoleStateVersion2_UnsupportedVersion() =>
        AssertErrorAsync(
            new StreamBytes().Header().Configuration().SectionStart(QemuFormat.SectionFull, 2, "vmconsole/state", 0, 2),
            "savevm: unsupported version 2 for 'vmconsole/state' v1");

    [Fact]
    public Task Read_RamAsFullSection_Refused() =>
        AssertErrorAsync(
            new StreamBytes().Header().Configuration().SectionStart(QemuFormat.SectionFull, 1, "ram", 0, 4),
            "Section 'ram' must come as QEMU_VM_SECTION_START and then parts, not as QEMU_VM_SECTION_FULL");

    [Fact]
    public Task Read_VmConsoleStateAsSectionStart_Refused() =>
        AssertErrorAsync(
            new StreamBytes().Header().Configuration().SectionStart(QemuFormat.SectionStart, 2, "vmconsole/state", 0, 1),
            "Section 'vmconsole/state' must come as QEMU_VM_SECTION_FULL");

    [Fact]
    public Task Read_SecondRamSetup_Refused() =>
        AssertErrorAsync(
            AfterSetup().SectionStart(QemuFormat.SectionStart, 5, "ram", 0, 4),
            "Section 5 starts 'ram' again: section 1 already announced the RAM blocks");

    [Fact]
    public Task Read_PartOfNeverStartedSection_UnknownSection() =>
        AssertErrorAsync(AfterSetup().U8(QemuFormat.SectionPart).Be32(7), "Unknown savevm section 7");

    [Fact]
    public Task Read_RamPartBeforeSetup_UnknownSection() =>
        AssertErrorAsync(
            new StreamBytes().Header().Configuration().U8(QemuFormat.SectionEnd).Be32(1).Be64(QemuFormat.RamFlagEos).Footer(1),
            "Unknown savevm section 1");

    [Fact]
    public Task Read_FooterByteMissing_MissingSectionFooter() =>
        AssertErrorAsync(InRamPart().Be64(QemuFormat.RamFlagEos).U8(QemuFormat.Eof), "Missing section footer for ram");

    [Fact]
    public Task Read_FooterWithAnotherId_MismatchedSectionId() =>
        AssertErrorAsync(
            InRamPart().Be64(QemuFormat.RamFlagEos).Footer(0x2A),
            "Mismatched section id in footer for ram - read 0x2a expected 0x1");

    [Fact]
    public Task Read_VmConsoleStateFooterWithAnotherId_MismatchedSectionId() =>
        AssertErrorAsync(
            AfterSetup().SectionStart(QemuFormat.SectionFull, 2, "vmconsole/state", 0, 1).Be32(1).U8(9).Footer(3),
            "Mismatched section id in footer for vmconsole/state - read 0x3 expected 0x2");

    [Fact]
    public Task Read_SectionType9_UnknownSectionType() =>
        AssertErrorAsync(AfterSetup().U8(9), "Unknown savevm section type 9");

    [Fact]
    public Task Read_DescriptionBeforeEof_UnknownSectionType() =>
        AssertErrorAsync(AfterSetup().U8(QemuFormat.VmDescription).Be32(2).Raw("{}"u8), "Unknown savevm section type 6");

    [Fact]
    public Task Read_UnknownCommand_QemusWords() =>
        AssertErrorAsync(AfterSetup().U8(QemuFormat.Command).Raw([0, 0x20, 0, 3]), "MIG_CMD 0x20 unknown (len 0x3)");

    [Fact]
    public Task Read_SubsectionAtTopLevel_NotSupported() =>
        AssertErrorAsync(
            AfterSetup().U8(QemuFormat.Subsection).Counted("configuration/capabilities").Be32(1),
            "Unsupported savevm section type 5 (QEMU_VM_SUBSECTION) outside a device's state: VmConsole loads only 'ram' and 'vmconsole/state'");

    [Fact]
    public Task Read_SetupWithoutMemSize_Refused() =>
        AssertErrorAsync(
            SetupStart().Be64(0x4000 | QemuFormat.RamFlagZero),
            "RAM setup: expected a RAM_SAVE_FLAG_MEM_SIZE record with the total RAM size, got flags 0x2");

    [Fact]
    public Task Read_SetupMemSizeWithContinue_UnknownCombination() =>
        AssertErrorAsync(
            SetupStart().Be64(0x4000 | QemuFormat.RamFlagMemSize | QemuFormat.RamFlagContinue),
            "Unknown combination of migration flags: 0x24");

    [Fact]
    public Task Read_SetupTotalAboveLimit_Refused() =>
        AssertErrorAsync(
            SetupStart().Be64((1UL << 62) | QemuFormat.RamFlagMemSize),
            "RAM setup: 4611686018427387904 bytes of RAM announced, more than the limit of 17592186044416");

    [Fact]
    public Task Read_SetupBlockLargerThanRemainingTotal_Refused() =>
        AssertErrorAsync(
            SetupStart().Be64(0x3000 | QemuFormat.RamFlagMemSize).Counted("pc.ram").Be64(0x2000).Counted("pc.bios").Be64(0x2000),
            "RAM setup: block 'pc.bios' of 0x2000 bytes is larger than the 0x1000 bytes left of the announced total 0x3000");

    [Fact]
    public Task Read_SetupMoreBlocksThanLimit_Refused() =>
        AssertErrorAsync(
            SetupStart().Be64(0x3000 | QemuFormat.RamFlagMemSize).Counted("a").Be64(0x1000).Counted("b").Be64(0x1000).Counted("c").Be64(0x1000),
            "RAM setup: more than 2 RAM blocks announced",
            MigrationStreamLimits.Default with { MaxRamBlocks = 2 });

    [Fact]
    public Task Read_SetupEmptyIdStr_Refused() =>
        AssertErrorAsync(
            SetupStart().Be64(0x1000 | QemuFormat.RamFlagMemSize).U8(0).Be64(0x1000),
            "RAM setup: block 0 has an empty idstr");

    [Fact]
    public Task Read_SetupIdStrNotUtf8_Refused() =>
        AssertErrorAsync(
            SetupStart().Be64(0x1000 | QemuFormat.RamFlagMemSize).U8(2).Raw([0xC3, 0x28]).Be64(0x1000),
            "RAM setup: the idstr of block 0 is not valid UTF-8");

    [Fact]
    public Task Read_SetupZeroUsedLength_Refused() =>
        AssertErrorAsync(
            SetupStart().Be64(0x1000 | QemuFormat.RamFlagMemSize).Counted("pc.ram").Be64(0),
            "RAM setup: block 'pc.ram' has used_length 0x0, not a positive multiple of the 4096-byte target page");

    [Fact]
    public Task Read_SetupUnalignedUsedLength_Refused() =>
        AssertErrorAsync(
            SetupStart().Be64(0x2000 | QemuFormat.RamFlagMemSize).Counted("pc.ram").Be64(0x1800),
            "RAM setup: block 'pc.ram' has used_length 0x1800, not a positive multiple of the 4096-byte target page");

    [Fact]
    public Task Read_SetupDuplicateIdStr_Refused() =>
        AssertErrorAsync(
            SetupStart().Be64(0x2000 | QemuFormat.RamFlagMemSize).Counted("pc.ram").Be64(0x1000).Counted("pc.ram").Be64(0x1000),
            "RAM setup: block 'pc.ram' is announced twice");

    [Fact]
    public Task Read_SetupWithoutEosAfterBlocks_Refused() =>
        AssertErrorAsync(
            SetupStart().Be64(0x1000 | QemuFormat.RamFlagMemSize).Counted("pc.ram").Be64(0x1000).Be64(QemuFormat.RamFlagZero),
            "RAM setup: expected RAM_SAVE_FLAG_EOS after the blocks, got flags 0x2");

    [Fact]
    public Task Read_ContinueAsFirstRecordOfSection_AckBadStream() =>
        AssertErrorAsync(InRamPart().Be64(QemuFormat.RamFlagZero | QemuFormat.RamFlagContinue).U8(0), "Ack, bad migration stream!");

    [Fact]
    public async Task Read_ContinueAfterPreviousSectionsBlock_SameBlock()
    {
        // QEMU keeps the last block it received across sections (MigrationIncomingState.last_recv_block), and a
        // live QEMU source does send CONTINUE as the first record of a part when its previous part ended in
        // the same block.
        var stream = InRamPart().Be64(QemuFormat.RamFlagZero).Counted("pc.ram").U8(0).Be64(QemuFormat.RamFlagEos).Footer(1)
            .U8(QemuFormat.SectionEnd).Be32(1).Be64(PageSize | QemuFormat.RamFlagZero | QemuFormat.RamFlagContinue).U8(7)
            .Be64(QemuFormat.RamFlagEos).Footer(1).U8(QemuFormat.Eof);

        var (sink, _) = await Streams.ReadAsync(stream.ToArray());

        Assert.Contains(RecordingSink.Zero(0, PageSize, 7), sink.Events);
    }

    [Fact]
    public Task Read_IdStrNotInSetup_CantFindBlock() =>
        AssertErrorAsync(InRamPart().Be64(QemuFormat.RamFlagPage).Counted("pc.rom"), "Can't find block pc.rom");

    [Fact]
    public Task Read_OffsetAtUsedLength_IllegalRamOffset() =>
        AssertErrorAsync(InRamPart().Be64(0x4000 | QemuFormat.RamFlagZero).Counted("pc.ram").U8(0), "Illegal RAM offset 4000");

    [Fact]
    public Task Read_HugeOffsetWithContinue_IllegalRamOffset() =>
        AssertErrorAsync(
            InRamPart().Be64(QemuFormat.RamFlagZero).Counted("pc.bios").U8(0)
                .Be64(0xFFFF_FFFF_FFFF_F000 | QemuFormat.RamFlagZero | QemuFormat.RamFlagContinue).U8(0),
            "Illegal RAM offset fffffffffffff000");

    [Theory]
    [InlineData(QemuFormat.RamFlagHook, "0x80")]
    [InlineData(QemuFormat.RamFlagXbzrle | QemuFormat.RamFlagCompressPage, "0x140")]
    [InlineData(QemuFormat.RamFlagFull, "0x1")]
    [InlineData(QemuFormat.RamFlagMemSize, "0x4")]
    [InlineData(QemuFormat.RamFlagZero | QemuFormat.RamFlagPage, "0xa")]
    [InlineData(QemuFormat.RamFlagPage | QemuFormat.RamFlagXbzrle | QemuFormat.RamFlagContinue, "0x68")]
    [InlineData(QemuFormat.RamFlagEos | QemuFormat.RamFlagContinue, "0x30")]
    [InlineData(0x200UL, "0x200")]
    [InlineData(0UL, "0x0")]
    public Task Read_RecordWithOtherFlags_UnknownCombination(ulong flags, string shown) =>
        AssertErrorAsync(InRamPart().Be64(0x1000 | flags).Counted("pc.ram"), $"Unknown combination of migration flags: {shown}");

    [Fact]
    public Task Read_MachineTypeLongerThanLimit_Refused() =>
        AssertErrorAsync(
            new StreamBytes().Header().U8(QemuFormat.Configuration).Be32(257),
            "Configuration section: a machine type of 257 bytes is longer than the limit of 256");

    [Fact]
    public Task Read_MachineTypeNotUtf8_Refused() =>
        AssertErrorAsync(
            new StreamBytes().Header().U8(QemuFormat.Configuration).Be32(3).Raw([(byte)'p', (byte)'c', 0xFF]),
            "Configuration section: the machine type is not valid UTF-8");

    [Fact]
    public Task Read_DeviceStateLongerThanLimit_Refused() =>
        AssertErrorAsync(
            AfterSetup().SectionStart(QemuFormat.SectionFull, 2, "vmconsole/state", 0, 1).Be32(0x7FFF_FFFF),
            "Section 'vmconsole/state': a payload of 2147483647 bytes is larger than the limit of 1048576");

    [Fact]
    public Task Read_DescriptionLongerThanLimit_Refused() =>
        AssertErrorAsync(
            AfterSetup().U8(QemuFormat.Eof).U8(QemuFormat.VmDescription).Be32(0x7FFF_FFFF),
            "The VM description of 2147483647 bytes is larger than the limit of 16777216");

    [Fact]
    public Task Read_DescriptionNotUtf8_Refused() =>
        AssertErrorAsync(
            AfterSetup().U8(QemuFormat.Eof).U8(QemuFormat.VmDescription).Be32(2).Raw([0xE2, 0x82]),
            "The VM description is not valid UTF-8");

    [Fact]
    public async Task Read_SinkRefusesBlocks_SameExceptionSurfaces()
    {
        var refusal = new MigrationStreamException("Unknown ramblock \"x\", cannot accept migration");
        var sink = new RecordingSink { RefuseBlocks = refusal };
        var reader = new MigrationStreamReader(PipeReader.Create(new(Streams.SmallValidStream())), sink);

        var thrown = await Assert.ThrowsAsync<MigrationStreamException>(() => reader.ReadToEndAsync(CancellationToken.None));

        Assert.Same(refusal, thrown);
        Assert.Equal("Unknown ramblock \"x\", cannot accept migration", thrown.Message);
        Assert.Equal(["config microvm"], sink.Events);
    }

    [Fact]
    public async Task Read_SinkThrowsOtherException_SameExceptionSurfaces()
    {
        var refusal = new InvalidOperationException("the destination VM went away");
        var sink = new RecordingSink { RefuseBlocks = refusal };
        var reader = new MigrationStreamReader(PipeReader.Create(new(Streams.SmallValidStream())), sink);

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => reader.ReadToEndAsync(CancellationToken.None));

        Assert.Same(refusal, thrown);
    }

    [Fact]
    public async Task Read_SinkRefuses_ReaderCompletedWithTheErrorSoWriterSeesIt()
    {
        var refusal = new MigrationStreamException("Unknown ramblock \"x\", cannot accept migration");
        var pipe = new Pipe();
        var reader = new MigrationStreamReader(pipe.Reader, new RecordingSink { RefuseBlocks = refusal });
        await pipe.Writer.WriteAsync(Streams.SmallValidStream());

        await Assert.ThrowsAsync<MigrationStreamException>(() => reader.ReadToEndAsync(CancellationToken.None));

        var writer = new MigrationStreamWriter(pipe.Writer);
        writer.WriteEof();
        var seen = await Assert.ThrowsAsync<MigrationStreamException>(() => writer.FlushAsync(CancellationToken.None).AsTask());
        Assert.Same(refusal, seen);
    }

    [Fact]
    public async Task Read_PipeWriterFailed_MigrationStreamExceptionWrapsTheCause()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new StreamBytes().Header().ToArray());
        await pipe.Writer.CompleteAsync(new IOException("Connection reset by peer"));
        var reader = new MigrationStreamReader(pipe.Reader, new RecordingSink());

        var error = await Assert.ThrowsAsync<MigrationStreamException>(() => reader.ReadToEndAsync(CancellationToken.None));

        Assert.Equal("migration stream failed after 0 bytes: Connection reset by peer", error.Message);
        Assert.IsType<IOException>(error.InnerException);
    }

    [Fact]
    public async Task Read_Canceled_OperationCanceledAndReaderCompleted()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new StreamBytes().Header().Configuration().ToArray());
        using var cancellation = new CancellationTokenSource();
        var reader = new MigrationStreamReader(pipe.Reader, new RecordingSink());
        var reading = reader.ReadToEndAsync(cancellation.Token);

        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WaitAsync(TimeSpan.FromSeconds(10)));
        var flush = await pipe.Writer.FlushAsync();
        Assert.True(flush.IsCompleted);
    }
}
