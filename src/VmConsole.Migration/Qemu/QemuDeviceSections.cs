using System.Buffers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// Steps over the device sections of a QEMU stream for a <see cref="MigrationStreamReader"/>, with QEMU's description
/// after EOF (see <see cref="DeviceStateSkipping"/>), and keeps what it stepped over for the imported VM. A section
/// must have a version QEMU 7.2 loads (<see cref="QemuDeviceVersions"/>), since it goes back to QEMU unchanged.
/// </summary>
/// <remarks>Used by the task reading the stream; <see cref="Skipped"/> is complete once the read has returned.</remarks>
public sealed class QemuDeviceSections(DeviceStateSkipping options) : IDeviceSectionHandler
{
    private readonly List<NotImportedDeviceSection> _skipped = [];

    /// <summary>The device section being stepped over: its header, its state's length once stepped over, and its description when known.</summary>
    private NotImportedDeviceSection _device = new("", 0, 0, 0);

    private DeviceSectionDescription? _description;

    private uint _sectionId;

    /// <summary>The device sections stepped over, in stream order.</summary>
    public IReadOnlyList<NotImportedDeviceSection> Skipped => _skipped;

    public int MaxTailBytes => options.MaxDeviceStateBytes;

    public bool BeginSection(DeviceSectionHeader header)
    {
        _device = new NotImportedDeviceSection(header.Name, header.InstanceId, header.VersionId, 0);
        _sectionId = header.SectionId;
        if (options.Description is { } description)
        {
            _description = description.Find(header.Name, header.InstanceId) ?? throw UnknownSection(header.Name, header.InstanceId);
            QemuDeviceVersions.Check(header.Name, header.VersionId);
            return true;
        }

        QemuDeviceVersions.Check(header.Name, header.VersionId);
        return false;
    }

    public bool TrySkipState(ref SequenceReader<byte> reader)
    {
        var start = reader.Consumed;
        if (!DeviceStateSkipper.TrySkip(ref reader, _description!.State, _device.Name))
        {
            return false;
        }

        _device = _device with { Bytes = reader.Consumed - start };
        return true;
    }

    public void EndSection() => _skipped.Add(_device);

    /// <inheritdoc/>
    /// <remarks>Finds the description at the end of <paramref name="tail"/>, then reads each section with it, footer and next header included.</remarks>
    public string FinishTail(ReadOnlySequence<byte> tail, long bytesRead)
    {
        var bytes = tail.FirstSpan;
        var start = QemuVmDescription.Locate(bytes);
        if (start < 0)
        {
            throw new MigrationStreamException(
                $"Section '{_device.Name}' {_device.InstanceId} cannot be stepped over: the stream does not end with the VM description QEMU writes after EOF");
        }

        if (!WireText.TryDecode(bytes[start..], out var json))
        {
            throw new MigrationStreamException("The VM description is not valid UTF-8");
        }

        var description = QemuVmDescription.Parse(json);
        var reader = new SequenceReader<byte>(tail.Slice(0, start - 5));
        Span<byte> idStr = stackalloc byte[WireText.MaxIdStrLength];
        var device = _device;
        var sectionId = _sectionId;
        while (true)
        {
            var found = description.Find(device.Name, device.InstanceId) ?? throw UnknownSection(device.Name, device.InstanceId);
            var bodyStart = reader.Consumed;
            if (!DeviceStateSkipper.TrySkip(ref reader, found.State, device.Name))
            {
                throw TailTruncated($"the state of section '{device.Name}'", bytesRead);
            }

            var length = reader.Consumed - bodyStart;
            if (!reader.TryRead(out var mark) || !TryReadBe32(ref reader, out var footerId))
            {
                throw TailTruncated($"the footer of section '{device.Name}'", bytesRead);
            }

            if (mark != QemuFormat.SectionFooter)
            {
                throw new MigrationStreamException($"Missing section footer for {device.Name}");
            }

            if (footerId != sectionId)
            {
                throw new MigrationStreamException($"Mismatched section id in footer for {device.Name} - read 0x{footerId:x} expected 0x{sectionId:x}");
            }

            _skipped.Add(device with { Bytes = length });
            if (!reader.TryRead(out var type))
            {
                throw TailTruncated("a section header (the stream has not reached EOF)", bytesRead);
            }

            if (type == QemuFormat.Eof)
            {
                break;
            }

            if (type != QemuFormat.SectionFull)
            {
                throw new MigrationStreamException($"Unexpected savevm section type {type} among the device sections that follow the RAM");
            }

            if (!TryReadBe32(ref reader, out sectionId)
                || !TryReadIdStr(ref reader, idStr, out var idLength)
                || !TryReadBe32(ref reader, out var instanceId)
                || !TryReadBe32(ref reader, out var versionId))
            {
                throw TailTruncated("a section header", bytesRead);
            }

            device = new NotImportedDeviceSection(WireText.Lenient(idStr[..idLength]), instanceId, versionId, 0);
            QemuDeviceVersions.Check(device.Name, versionId);
        }

        if (!reader.End)
        {
            throw new MigrationStreamException("Expected vmdescription section right after EOF, found more bytes");
        }

        return json;
    }

    private static TruncatedStreamException TailTruncated(string reading, long bytesRead) =>
        new($"truncated migration stream: it ended at byte {bytesRead} while reading {reading}");

    private static MigrationStreamException UnknownSection(string name, uint instanceId) =>
        new($"Unknown savevm section or instance '{name}' {instanceId}. Make sure that your current VM setup matches your saved VM setup, including any hotplugged devices");
}
