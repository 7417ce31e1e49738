using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Wire;

/// <summary>The writer's bytes against a stream spelled out by hand from DESIGN.md section 5.</summary>
public sealed class GoldenStreamTests
{
    private static readonly byte[] PageBytes = [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7))];

    /// <summary>The stream, byte by byte. Section id 1 is "ram"; blocks 0 "microvm.ram" (8 KiB) and 1 "/rom@etc/acpi/rsdp" (4 KiB).</summary>
    private static byte[] Expected() =>
    [
        // Header: "QEVM", version 3.
        0x51, 0x45, 0x56, 0x4D, 0x00, 0x00, 0x00, 0x03,

        // Configuration: 0x07, be32 7, "microvm".
        0x07, 0x00, 0x00, 0x00, 0x07, (byte)'m', (byte)'i', (byte)'c', (byte)'r', (byte)'o', (byte)'v', (byte)'m',

        // RAM setup: SECTION_START, id 1, "ram", instance 0, version 4.
        0x01, 0x00, 0x00, 0x00, 0x01, 0x03, (byte)'r', (byte)'a', (byte)'m', 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,
        // be64 total 0x3000 | MEM_SIZE 0x04.
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x04,
        // 11 "microvm.ram", be64 0x2000.
        0x0B, (byte)'m', (byte)'i', (byte)'c', (byte)'r', (byte)'o', (byte)'v', (byte)'m', (byte)'.', (byte)'r', (byte)'a', (byte)'m',
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00,
        // 18 "/rom@etc/acpi/rsdp", be64 0x1000.
        0x12, (byte)'/', (byte)'r', (byte)'o', (byte)'m', (byte)'@', (byte)'e', (byte)'t', (byte)'c', (byte)'/',
        (byte)'a', (byte)'c', (byte)'p', (byte)'i', (byte)'/', (byte)'r', (byte)'s', (byte)'d', (byte)'p',
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
        // be64 EOS, footer for section 1.
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        0x7E, 0x00, 0x00, 0x00, 0x01,

        // SECTION_PART, id 1.
        0x02, 0x00, 0x00, 0x00, 0x01,
        // Zero page of block 0 at 0x1000, fill 0xAB: be64 0x1000 | ZERO 0x02, the idstr, the fill byte.
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x02,
        0x0B, (byte)'m', (byte)'i', (byte)'c', (byte)'r', (byte)'o', (byte)'v', (byte)'m', (byte)'.', (byte)'r', (byte)'a', (byte)'m',
        0xAB,
        // Page of block 0 at 0: same block, so be64 0 | PAGE 0x08 | CONTINUE 0x20 and no idstr; then the 4096 bytes.
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28,
        .. PageBytes,
        // Zero page of block 1 at 0, fill 0: another block, so the idstr again.
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
        0x12, (byte)'/', (byte)'r', (byte)'o', (byte)'m', (byte)'@', (byte)'e', (byte)'t', (byte)'c', (byte)'/',
        (byte)'a', (byte)'c', (byte)'p', (byte)'i', (byte)'/', (byte)'r', (byte)'s', (byte)'d', (byte)'p',
        0x00,
        // be64 EOS, footer.
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        0x7E, 0x00, 0x00, 0x00, 0x01,

        // SECTION_END, id 1: a new section, so block 1 is named again rather than CONTINUE.
        0x03, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
        0x12, (byte)'/', (byte)'r', (byte)'o', (byte)'m', (byte)'@', (byte)'e', (byte)'t', (byte)'c', (byte)'/',
        (byte)'a', (byte)'c', (byte)'p', (byte)'i', (byte)'/', (byte)'r', (byte)'s', (byte)'d', (byte)'p',
        0xFF,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        0x7E, 0x00, 0x00, 0x00, 0x01,

        // EOF.
        0x00,

        // Description: 0x06, be32 14, {"devices":[]}.
        0x06, 0x00, 0x00, 0x00, 0x0E,
        (byte)'{', (byte)'"', (byte)'d', (byte)'e', (byte)'v', (byte)'i', (byte)'c', (byte)'e', (byte)'s', (byte)'"', (byte)':', (byte)'[', (byte)']', (byte)'}',
    ];

    private static byte[] Written() => Streams.Write(writer =>
    {
        writer.WriteHeader();
        writer.WriteConfiguration("microvm");
        writer.WriteRamSetup(1, [new("microvm.ram", 0x2000), new("/rom@etc/acpi/rsdp", 0x1000)]);
        writer.BeginRamSection(1, end: false);
        writer.WriteZeroPage(0, 0x1000, 0xAB);
        writer.WritePage(0, 0, PageBytes);
        writer.WriteZeroPage(1, 0, 0);
        writer.EndRamSection(1);
        writer.BeginRamSection(1, end: true);
        writer.WriteZeroPage(1, 0, 0xFF);
        writer.EndRamSection(1);
        writer.WriteEof();
        writer.WriteVmDescription("{\"devices\":[]}");
    });

    [Fact]
    public void Writer_TinyStream_MatchesHandComputedBytes()
    {
        var expected = Expected();
        var written = Written();

        Assert.Equal(expected.Length, written.Length);
        var firstDifference = Enumerable.Range(0, expected.Length).FirstOrDefault(i => expected[i] != written[i], -1);
        Assert.True(firstDifference < 0, $"first difference at byte {firstDifference}");
    }

    [Fact]
    public async Task Reader_HandComputedBytes_ReportsEverySectionInOrder()
    {
        var expected = Expected();

        var (sink, reader) = await Streams.ReadAsync(expected);

        Assert.Equal(
            [
                "config microvm",
                "blocks microvm.ram=2000 | /rom@etc/acpi/rsdp=1000",
                RecordingSink.Zero(0, 0x1000, 0xAB),
                RecordingSink.Page(0, 0, PageBytes),
                RecordingSink.Zero(1, 0, 0),
                "part",
                RecordingSink.Zero(1, 0, 0xFF),
                "end",
                "eof",
                "description {\"devices\":[]}",
            ],
            sink.Events);
        Assert.Equal(expected.Length, reader.BytesRead);
    }

    [Fact]
    public void Writer_VmConsoleState_IsAFullSectionWithLengthPrefixedPayload()
    {
        var written = Streams.Write(writer => writer.WriteVmConsoleState(5, [0xDE, 0xAD]));

        byte[] expected =
        [
            0x04, 0x00, 0x00, 0x00, 0x05, 0x0F,
            .. "vmconsole/state"u8,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x00, 0x00, 0x00, 0x02, 0xDE, 0xAD,
            0x7E, 0x00, 0x00, 0x00, 0x05,
        ];
        Assert.Equal(expected, written);
    }
}
