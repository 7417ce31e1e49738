using System.Buffers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// Keeps the device sections of a QEMU stream for a <see cref="MigrationStreamReader"/>: each section's header and its
/// state bytes exactly as they came, in stream order, with the device's part of QEMU's description after EOF (see
/// <see cref="DeviceStateSkipping"/>: the description says how long each state is). A section must have a version
/// QEMU 7.2 loads (<see cref="QemuDeviceVersions"/>), since it goes back to QEMU unchanged.
/// </summary>
/// <remarks>Used by the task reading the stream; <see cref="Kept"/> is complete once the read has returned.</remarks>
public sealed class QemuDeviceSections(DeviceStateSkipping options) : IDeviceSectionHandler
{
    private readonly List<DeviceSection> _kept = [];

    /// <summary>The device section being read: its header, then its state once read.</summary>
    private DeviceSectionHeader _header = new(0, "", 0, 0);

    private DeviceSectionDescription? _description;

    /// <summary>The state bytes of the section being read, once read.</summary>
    private byte[] _state = [];

    /// <summary>The description's top-level fields but <c>devices</c>, once the description is known.</summary>
    private string? _fieldsJson = options.Description?.FieldsJson;

    private long _keptBytes;

    /// <summary>The device sections, in stream order.</summary>
    public IReadOnlyList<DeviceSection> Sections => _kept;

    /// <summary>What the stream carried as device state, once read to its end; null when it had no device section.</summary>
    public DeviceState? Kept => _kept.Count == 0 ? null : new DeviceState(_kept, _fieldsJson ?? "{}");

    public int MaxTailBytes => options.MaxDeviceStateBytes;

    public bool BeginSection(DeviceSectionHeader header)
    {
        _header = header;
        if (options.Description is { } description)
        {
            // QEMU's order: the section is looked up, then its version checked.
            _description = description.Find(header.Name, header.InstanceId) ?? throw UnknownSection(header.Name, header.InstanceId);
        }

        QemuDeviceVersions.Check(header.Name, header.VersionId);
        return options.Description is not null;
    }

    public bool TrySkipState(ref SequenceReader<byte> reader)
    {
        var start = reader.Position;
        if (!DeviceStateSkipper.TrySkip(ref reader, _description!.State, _header.Name))
        {
            return false;
        }

        _state = reader.Sequence.Slice(start, reader.Position).ToArray();
        return true;
    }

    public void EndSection() => Keep(_header, _state, _description!);

    /// <summary>Keeps one section once its footer is read; more than the limit of device state in all is refused.</summary>
    private void Keep(DeviceSectionHeader header, byte[] state, DeviceSectionDescription description)
    {
        _keptBytes += state.Length + description.Json.Length;
        if (_keptBytes > options.MaxDeviceStateBytes)
        {
            throw new MigrationStreamException($"More than {options.MaxDeviceStateBytes} bytes of device state came with the stream (at section '{header.Name}')");
        }

        _kept.Add(new DeviceSection(header.Name, header.InstanceId, header.VersionId, state, description.Json));
    }

    /// <inheritdoc/>
    /// <remarks>Finds the description at the end of <paramref name="tail"/>, then reads each section with it, footer and next header included.</remarks>
    public string FinishTail(ReadOnlySequence<byte> tail, long bytesRead)
    {
        var bytes = tail.FirstSpan;
        var start = QemuVmDescription.Locate(bytes);
        if (start < 0)
        {
            throw new MigrationStreamException(
                $"Section '{_header.Name}' {_header.InstanceId} cannot be read: the stream does not end with the VM description QEMU writes after EOF");
        }

        if (!WireText.TryDecode(bytes[start..], out var json))
        {
            throw new MigrationStreamException("The VM description is not valid UTF-8");
        }

        var description = QemuVmDescription.Parse(json);
        _fieldsJson = description.FieldsJson;
        var reader = new SequenceReader<byte>(tail.Slice(0, start - 5));
        Span<byte> idStr = stackalloc byte[WireText.MaxIdStrLength];
        var device = _header;
        var sectionId = _header.SectionId;
        while (true)
        {
            var found = description.Find(device.Name, device.InstanceId) ?? throw UnknownSection(device.Name, device.InstanceId);
            var bodyStart = reader.Position;
            if (!DeviceStateSkipper.TrySkip(ref reader, found.State, device.Name))
            {
                throw TailTruncated($"the state of section '{device.Name}'", bytesRead);
            }

            var state = reader.Sequence.Slice(bodyStart, reader.Position).ToArray();
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

            Keep(device, state, found);
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

            device = new DeviceSectionHeader(sectionId, WireText.Lenient(idStr[..idLength]), instanceId, versionId);
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
