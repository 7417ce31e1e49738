using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using VmConsole.Emulation;
using VmConsole.Migration.Qemu;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>Streams that do not fit fail with QEMU's words and leave no VM (and no reserved memory) behind; device state is cut into sections by its description and kept.</summary>
public sealed class QemuImportErrorTests
{
    internal static readonly RamBlockHeader[] Microvm =
    [
        new("microvm.ram", 16 << 20), new("/rom@etc/acpi/tables", 4096), new("pc.bios", 64 << 10), new("/rom@etc/table-loader", 4096), new("/rom@etc/acpi/rsdp", 4096),
    ];

    private const string TimerDescription =
        """{"page_size": 4096, "devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2, "fields": [{"name": "cpu_ticks_offset", "type": "int64", "size": 8}, {"name": "unused", "type": "unused_buffer", "size": 8}, {"name": "cpu_clock_offset", "type": "int64", "size": 8}], "subsections": [{"vmsd_name": "timer/dma", "version": 1, "fields": [{"name": "a", "type": "uint32", "size": 4, "array_len": 2}]}]}]}""";

    internal const string TimerAndApicDescription =
        """{"page_size": 4096, "devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2, "fields": [{"name": "cpu_ticks_offset", "type": "int64", "size": 8}, {"name": "unused", "type": "unused_buffer", "size": 8}, {"name": "cpu_clock_offset", "type": "int64", "size": 8}], "subsections": [{"vmsd_name": "timer/dma", "version": 1, "fields": [{"name": "a", "type": "uint32", "size": 4, "array_len": 2}]}]}, {"name": "apic", "instance_id": 0, "vmsd_name": "apic", "version": 3, "fields": [{"name": "apicbase", "type": "uint32", "size": 4}]}]}""";

    private const string AhciDescription =
        """{"page_size": 4096, "devices": [{"name": "0000:00:1f.2/ich9_ahci", "instance_id": 0, "vmsd_name": "ich9_ahci", "version": 1, "fields": [{"name": "parent_obj", "type": "struct", "size": 4}]}]}""";

    public static TheoryData<string, byte[]> Malformed() => new()
    {
        { "Not a migration stream", [0x51, 0x45, 0x56, 0x4E, 0, 0, 0, 3] },
        { "Unsupported migration stream version", [0x51, 0x45, 0x56, 0x4D, 0, 0, 0, 4] },
        { "truncated migration stream", Build("microvm", Microvm)[..^40] },
        { "Unknown ramblock \"foo/bar\", cannot accept migration", Build("microvm", [.. Microvm, new("foo/bar", 4096)]) },
        { "Size mismatch: pc.bios: 0x20000 != 0x10000: Invalid argument", Build("microvm", [.. Microvm[..2], new("pc.bios", 128 << 10), .. Microvm[3..]]) },
        { "Size too large: /rom@etc/acpi/tables: 0x400000 > 0x200000: Invalid argument", Build("microvm", [Microvm[0], new("/rom@etc/acpi/tables", 4 << 20), .. Microvm[2..]]) },
        { "Machine type received is 'virt-7.2'", Build("virt-7.2", Microvm) },
        { "The stream has no RAM block besides the q35 firmware", Build("pc-q35-7.2", [new("pc.bios", 256 << 10), new("pc.rom", 128 << 10)]) },
        { "Section 'timer' 0 cannot be read: the stream does not end with the VM description", Build("microvm", Microvm, Timer(withSubsection: true), description: null) },
        { "Unknown savevm section or instance 'timer' 1", Build("microvm", Microvm, Timer(withSubsection: true, instance: 1), TimerDescription) },
        { "Subsection timer/dma not found in section 'timer'", Build("microvm", Microvm, Timer(withSubsection: false), TimerDescription) },
        { "The VM description after EOF is not valid", Build("microvm", Microvm, Timer(withSubsection: true), TimerDescription.Replace("\"fields\"", "\"fields\":{}, \"x\"", StringComparison.Ordinal)) },
        { "Machine type received is 'pc-q35-7\\x0e2' and local is 'pc-q35-7.2'", Build("pc-q35-7\u000e2", Microvm) },
        { "Machine type received is 'pc-i440fx-9.9' and local is 'pc-i440fx-7.2'", Build("pc-i440fx-9.9", Microvm) },
        { "savevm: unsupported version 3 for 'timer' v2", Build("microvm", Microvm, Timer(withSubsection: true, version: 3), TimerDescription) },
        { "timer: incoming version_id 0 is too old for local minimum version_id  1", Build("microvm", Microvm, Timer(withSubsection: true, version: 0), TimerDescription) },
        { "savevm: unsupported version 4 for 'apic' v3", Build("microvm", Microvm, [.. Timer(withSubsection: true), .. Apic(version: 4)], TimerAndApicDescription) },
        { "apic: incoming version_id 2 is too old for local minimum version_id  3", Build("microvm", Microvm, [.. Timer(withSubsection: true), .. Apic(version: 2)], TimerAndApicDescription) },
        { "savevm: unsupported version 2 for '0000:00:1f.2/ich9_ahci' v1", Build("microvm", Microvm, Ahci(version: 2), AhciDescription) },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Import_MalformedFile_FailsWithQemuWordsAndLeavesNoVm(string expected, byte[] stream) =>
        await AssertFailsAsync(expected, new MemoryStream(stream));

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Import_MalformedLiveStream_FailsWithQemuWordsAndLeavesNoVm(string expected, byte[] stream) =>
        await AssertFailsAsync(expected, new QemuStreams.ForwardOnly(new MemoryStream(stream)));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Import_DeviceSectionWithSubsection_KeptVerbatimWithItsDescription(bool seekable)
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        var bytes = Build("microvm", Microvm, Timer(withSubsection: true), TimerDescription);
        Stream input = seekable ? new MemoryStream(bytes) : new QemuStreams.ForwardOnly(new MemoryStream(bytes));

        var result = await new QemuStreamImport(emulator).ImportAsync("vm1", host, input);

        var timer = Assert.Single(result.DeviceState!.Sections);
        Assert.Equal(("timer", 0u, 2u), (timer.IdStr, timer.InstanceId, timer.VersionId));
        // Between the header (1 + 4 + 1 + 5 + 4 + 4 bytes) and the footer (5 bytes).
        Assert.Equal(Timer(withSubsection: true)[19..^5], timer.State.ToArray());
        Assert.Same(result.DeviceState, result.Vm.DeviceState);
        var page = new byte[4096];
        result.Vm.ReadGuest(0x5000, page);
        Assert.All(page, b => Assert.Equal(0x5A, b));
    }

    [Fact]
    public async Task Import_NameTaken_RefusedBeforeReading()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        emulator.CreateVm(new Emulation.Vms.VmDefinition("vm1", host, "microvm", 16 << 20));
        var error = await Assert.ThrowsAsync<DomainException>(() => new QemuStreamImport(emulator).ImportAsync("vm1", host, new MemoryStream(Build("microvm", Microvm))));
        Assert.Equal("vm-exists", error.Code);
    }

    private static async Task AssertFailsAsync(string expected, Stream input)
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        var error = await Assert.ThrowsAnyAsync<MigrationStreamException>(() => new QemuStreamImport(emulator).ImportAsync("vm1", host, input));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Empty(emulator.Vms);
        Assert.Empty(emulator.IncomingOn(emulator.GetHost(host)));
        Assert.Equal(0, emulator.GetHost(host).ReservedBytes);
    }

    [Theory]
    [InlineData("microvm")]
    [InlineData("pc-q35-7.2")]
    [InlineData("pc-q35-4.0.1")]
    [InlineData("pc-q35-2.4")]
    [InlineData("pc-i440fx-7.2")]
    [InlineData("pc-i440fx-1.4")]
    public void FindPreset_MachineTypeQemu72Has_Found(string machineType) => Assert.NotNull(QemuMachineTypes.FindPreset(machineType));

    [Theory]
    [InlineData("pc-q35-7\u000e2")]
    [InlineData("pc-q35-7.2\u0000")]
    [InlineData("pc-q35-")]
    [InlineData("pc-q35-8.0")]
    [InlineData("pc-i440fx-1.3")]
    [InlineData("microvm ")]
    public void FindPreset_NameQemu72DoesNotHave_Null(string machineType) => Assert.Null(QemuMachineTypes.FindPreset(machineType));

    /// <summary>A one-field 'apic' device section (4 bytes), section id 8 unless given.</summary>
    internal static byte[] Apic(uint version, uint id = 8) => Section(id, "apic", version, 4);

    /// <summary>A one-field ich9_ahci device section (4 bytes) under its PCI path, section id 9.</summary>
    private static byte[] Ahci(uint version) => Section(9, "0000:00:1f.2/ich9_ahci", version, 4);

    private static byte[] Section(uint id, string name, uint version, int fieldBytes)
    {
        var bytes = new List<byte> { QemuFormat.SectionFull };
        bytes.AddRange(Be32(id));
        bytes.Add((byte)name.Length);
        bytes.AddRange(Encoding.ASCII.GetBytes(name));
        bytes.AddRange(Be32(0));
        bytes.AddRange(Be32(version));
        bytes.AddRange(Enumerable.Repeat((byte)0x33, fieldBytes));
        bytes.Add(QemuFormat.SectionFooter);
        bytes.AddRange(Be32(id));
        return [.. bytes];
    }

    /// <summary>A 'timer' device section (24 bytes of fields, optionally the 'timer/dma' subsection), section id 7 unless given.</summary>
    internal static byte[] Timer(bool withSubsection, uint instance = 0, uint version = 2, uint id = 7)
    {
        var bytes = new List<byte> { QemuFormat.SectionFull };
        bytes.AddRange(Be32(id));
        bytes.Add(5);
        bytes.AddRange("timer"u8.ToArray());
        bytes.AddRange(Be32(instance));
        bytes.AddRange(Be32(version));
        bytes.AddRange(Enumerable.Repeat((byte)0x11, 24));
        if (withSubsection)
        {
            bytes.Add(QemuFormat.Subsection);
            bytes.Add(9);
            bytes.AddRange("timer/dma"u8.ToArray());
            bytes.AddRange(Be32(1));
            bytes.AddRange(Enumerable.Repeat((byte)0x22, 8));
        }

        bytes.Add(QemuFormat.SectionFooter);
        bytes.AddRange(Be32(id));
        return [.. bytes];
    }

    /// <summary>Header, configuration, RAM (one page of 0x5A at 0x5000 of the first block, the rest zero pages of the first page), device bytes, EOF, description.</summary>
    internal static byte[] Build(string machine, RamBlockHeader[] blocks, byte[]? devices = null, string? description = null)
    {
        var output = new MemoryStream();
        var pipe = PipeWriter.Create(output, new StreamPipeWriterOptions(leaveOpen: true));
        var writer = new MigrationStreamWriter(pipe);
        writer.WriteHeader();
        writer.WriteConfiguration(machine);
        writer.WriteRamSetup(2, blocks);
        writer.BeginRamSection(2, end: true);
        writer.WritePage(0, 0x5000, Enumerable.Repeat((byte)0x5A, 4096).ToArray());
        for (var i = 1; i < blocks.Length; i++)
        {
            writer.WriteZeroPage(i, 0, 0);
        }

        writer.EndRamSection(2);
        writer.FlushAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        output.Write(devices ?? []);
        output.WriteByte(QemuFormat.Eof);
        if (description is not null)
        {
            var json = Encoding.UTF8.GetBytes(description);
            output.WriteByte(QemuFormat.VmDescription);
            output.Write(Be32((uint)json.Length));
            output.Write(json);
        }

        return output.ToArray();
    }

    private static byte[] Be32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }
}
