using System.Buffers;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Wire;

/// <summary>
/// The grammar of QEMU 7.2's migration stream for a <see cref="MigrationStreamReader"/>, which feeds it the pipe's
/// buffers: record by record, in stages (header, configuration, sections with their footers, EOF, description), telling
/// the sink what each complete record holds. The <c>ram</c> section's records are read by <see cref="RamSectionReader"/>,
/// device sections stepped over by an <see cref="IDeviceSectionHandler"/>.
/// </summary>
/// <remarks>Used only by the task reading the stream.</remarks>
internal sealed class MigrationStreamParser : IDisposable
{
    private const string RamName = "ram";
    private const string StateName = "vmconsole/state";

    private readonly IMigrationStreamSink _sink;
    private readonly MigrationStreamLimits _limits;
    private readonly IDeviceSectionHandler? _deviceSections;
    private readonly RamSectionReader _ram;
    private readonly MigrationCommandReader _commands;
    private readonly SourceCapabilities _source;

    private readonly PayloadBuffer _payload = new();

    private Stage _stage = Stage.Header;

    /// <summary>The record being parsed and where it began, for truncation messages.</summary>
    private string _reading = "the file header";

    private long _unitStart;

    /// <summary>Stream offset of the buffer being parsed.</summary>
    private long _base;

    /// <summary>The section whose payload is being read and whose footer closes it.</summary>
    private SectionKind _section;

    private uint _sectionId;

    /// <summary>The header of the device section being stepped over.</summary>
    private DeviceSectionHeader _device = new(0, "", 0, 0);

    /// <param name="returnPath">Where the answers to the source go (a live migration); null for a file.</param>
    /// <param name="capabilities">What the destination was told of the source's capabilities.</param>
    public MigrationStreamParser(
        IMigrationStreamSink sink, MigrationStreamLimits limits, IDeviceSectionHandler? deviceSections, IMigrationReturnPath? returnPath = null, IncomingCapabilities? capabilities = null)
    {
        _sink = sink;
        _limits = limits;
        _deviceSections = deviceSections;
        _source = new SourceCapabilities(capabilities ?? IncomingCapabilities.Default);
        _commands = new MigrationCommandReader(returnPath, _source);
        _ram = new RamSectionReader(sink, _limits, _source);
    }

    private enum Stage
    {
        Header,
        Configuration,
        Section,
        Ram,
        StatePayload,
        Footer,
        DeviceState,
        DeviceTail,
        AfterEof,
        DescriptionPayload,
        Done,
    }

    private enum SectionKind
    {
        Ram,
        VmConsoleState,
        Device,
    }

    /// <summary>Whether the stream has been read to its end (the description, or what may follow EOF).</summary>
    public bool Done => _stage == Stage.Done;

    /// <summary>Whether every byte is being kept until the stream ends (see <see cref="IDeviceSectionHandler.FinishTail"/>).</summary>
    public bool KeepingTail => _stage == Stage.DeviceTail;

    /// <summary>The next buffer starts at stream offset <paramref name="offset"/>.</summary>
    public void BeginBuffer(long offset) => _base = offset;

    /// <summary>
    /// Parses one record. False when the buffer ends inside it: then it has changed no parse state (only what a truncation
    /// message would name) and called no sink, and the caller rewinds. A sink is called only once its record is complete.
    /// </summary>
    public bool Step(ref SequenceReader<byte> reader, scoped Span<byte> idStr) => _stage switch
    {
        Stage.Header => TryReadHeader(ref reader),
        Stage.Configuration => TryReadConfiguration(ref reader),
        Stage.Section => TryReadSectionHeader(ref reader, idStr),
        Stage.Ram => TryReadRam(ref reader, idStr),
        Stage.StatePayload or Stage.DescriptionPayload => TryReadPayload(ref reader),
        Stage.Footer => TryReadFooter(ref reader),
        Stage.DeviceState => TryReadDeviceState(ref reader),
        Stage.DeviceTail => TryReadDeviceTail(ref reader),
        Stage.AfterEof => TryReadAfterEof(ref reader),
        _ => throw new InvalidOperationException($"No record to read in stage {_stage}."),
    };

    /// <summary>
    /// The stream ended, <paramref name="length"/> bytes long, before <see cref="Done"/>: fine after EOF, or when the
    /// bytes kept for device sections end with the description (<paramref name="atEnd"/>: every byte was parsed or kept).
    /// </summary>
    public void EndOfStream(bool atEnd, long length)
    {
        if (_stage == Stage.DeviceTail && atEnd)
        {
            FinishDeviceTail(length);
            _stage = Stage.Done;
        }
        else if (_stage == Stage.AfterEof && atEnd)
        {
            _stage = Stage.Done; // The stream ended after EOF without a description: QEMU only warns.
        }
        else
        {
            throw new TruncatedStreamException(
                $"truncated migration stream: it ended at byte {length} while reading {_reading} (from byte {_unitStart})");
        }
    }

    public void Dispose() => _payload.Dispose();

    private void Begin(ref SequenceReader<byte> reader, string reading)
    {
        _reading = reading;
        _unitStart = _base + reader.Consumed;
    }

    private bool TryReadHeader(ref SequenceReader<byte> reader)
    {
        Begin(ref reader, "the file header");
        if (!StreamPreamble.TryReadHeader(ref reader))
        {
            return false;
        }

        _stage = Stage.Configuration;
        return true;
    }

    private bool TryReadConfiguration(ref SequenceReader<byte> reader)
    {
        Begin(ref reader, "the configuration section");
        if (!StreamPreamble.TryReadConfiguration(ref reader, _limits, out var machineType)
            || !ConfigurationSubsections.TryRead(ref reader, out var xIgnoreShared))
        {
            return false;
        }

        _source.TakeValidated(xIgnoreShared);
        _stage = Stage.Section;
        _sink.OnConfiguration(machineType);
        return true;
    }

    private bool TryReadSectionHeader(ref SequenceReader<byte> reader, scoped Span<byte> idStr)
    {
        Begin(ref reader, "a section header (the stream has not reached EOF)");
        if (!reader.TryRead(out var type))
        {
            return false;
        }

        switch (type)
        {
            case QemuFormat.Eof:
                _stage = Stage.AfterEof;
                _sink.OnEof();
                return true;
            case QemuFormat.SectionStart or QemuFormat.SectionFull:
                return TryReadSectionStart(ref reader, type, idStr);
            case QemuFormat.SectionPart or QemuFormat.SectionEnd:
                return TryReadSectionPart(ref reader, type);
            case QemuFormat.Subsection:
                throw new MigrationStreamException(
                    "Unsupported savevm section type 5 (QEMU_VM_SUBSECTION) outside a device's state: VmConsole loads only 'ram' and 'vmconsole/state'");
            case QemuFormat.Command:
                _reading = "a command (QEMU_VM_COMMAND)";
                return _commands.TryRead(ref reader);
            default:
                throw new MigrationStreamException($"Unknown savevm section type {type}");
        }
    }

    private bool TryReadSectionStart(ref SequenceReader<byte> reader, byte type, scoped Span<byte> idStr)
    {
        if (!TryReadBe32(ref reader, out var sectionId)
            || !TryReadIdStr(ref reader, idStr, out var idLength)
            || !TryReadBe32(ref reader, out var instanceId)
            || !TryReadBe32(ref reader, out var versionId))
        {
            return false;
        }

        var id = idStr[..idLength];
        UnsupportedSections.Refuse(id);
        var isRam = id.SequenceEqual("ram"u8);
        if (_deviceSections is not null && !isRam && !id.SequenceEqual("vmconsole/state"u8))
        {
            return StartDeviceSection(ref reader, type, sectionId, id, instanceId, versionId);
        }

        if ((!isRam && !id.SequenceEqual("vmconsole/state"u8)) || instanceId != 0)
        {
            throw new MigrationStreamException(
                $"Unknown savevm section or instance '{WireText.Lenient(id)}' {instanceId}. Make sure that your current VM setup matches your saved VM setup, including any hotplugged devices");
        }

        var name = isRam ? RamName : StateName;
        var supportedVersion = isRam ? QemuFormat.RamVersionId : QemuFormat.VmConsoleStateVersionId;
        if (versionId != supportedVersion)
        {
            throw new MigrationStreamException($"savevm: unsupported version {versionId} for '{name}' v{supportedVersion}");
        }

        if (isRam)
        {
            _ram.StartSetup(sectionId, type);
            _section = SectionKind.Ram;
            _sectionId = sectionId;
            _stage = Stage.Ram;
            return true;
        }

        if (type != QemuFormat.SectionFull)
        {
            throw new MigrationStreamException("Section 'vmconsole/state' must come as QEMU_VM_SECTION_FULL");
        }

        if (!TryReadBe32(ref reader, out var length))
        {
            return false;
        }

        if (length > (uint)_limits.MaxDeviceStateBytes)
        {
            throw new MigrationStreamException(
                $"Section 'vmconsole/state': a payload of {length} bytes is larger than the limit of {_limits.MaxDeviceStateBytes}");
        }

        _section = SectionKind.VmConsoleState;
        _sectionId = sectionId;
        _payload.Start((int)length);
        _stage = Stage.StatePayload;
        Begin(ref reader, "the payload of section 'vmconsole/state'");
        return true;
    }

    private bool TryReadSectionPart(ref SequenceReader<byte> reader, byte type)
    {
        if (!TryReadBe32(ref reader, out var sectionId))
        {
            return false;
        }

        _ram.StartPart(sectionId, end: type == QemuFormat.SectionEnd);
        _section = SectionKind.Ram;
        _sectionId = sectionId;
        _stage = Stage.Ram;
        return true;
    }

    private bool TryReadRam(ref SequenceReader<byte> reader, scoped Span<byte> idStr)
    {
        Begin(ref reader, _ram.Reading);
        if (!_ram.TryRead(ref reader, idStr, out var done))
        {
            return false;
        }

        if (done)
        {
            _stage = Stage.Footer;
        }

        return true;
    }

    private bool TryReadPayload(ref SequenceReader<byte> reader)
    {
        if (_payload.Append(ref reader) == 0 && !_payload.IsComplete)
        {
            return false;
        }

        if (!_payload.IsComplete)
        {
            return true;
        }

        if (_stage == Stage.StatePayload)
        {
            _stage = Stage.Footer;
            return true;
        }

        if (!WireText.TryDecode(_payload.Span, out var json))
        {
            throw new MigrationStreamException("The VM description is not valid UTF-8");
        }

        _payload.Dispose();
        _stage = Stage.Done;
        _sink.OnVmDescription(json);
        return true;
    }

    private bool TryReadFooter(ref SequenceReader<byte> reader)
    {
        var name = _section switch
        {
            SectionKind.VmConsoleState => StateName,
            SectionKind.Device => _device.Name,
            _ => RamName,
        };
        Begin(ref reader, $"the footer of section '{name}'");
        if (!reader.TryRead(out var mark))
        {
            return false;
        }

        if (mark != QemuFormat.SectionFooter)
        {
            throw new MigrationStreamException($"Missing section footer for {name}");
        }

        if (!TryReadBe32(ref reader, out var sectionId))
        {
            return false;
        }

        if (sectionId != _sectionId)
        {
            throw new MigrationStreamException($"Mismatched section id in footer for {name} - read 0x{sectionId:x} expected 0x{_sectionId:x}");
        }

        _stage = Stage.Section;
        switch (_section)
        {
            case SectionKind.Ram:
                _ram.EndSection();
                break;
            case SectionKind.VmConsoleState:
                _sink.OnVmConsoleState(_payload.Sequence);
                _payload.Dispose();
                break;
            case SectionKind.Device:
                _deviceSections!.EndSection();
                break;
        }

        return true;
    }

    private bool TryReadAfterEof(ref SequenceReader<byte> reader)
    {
        Begin(ref reader, "the VM description after EOF");
        if (!reader.TryPeek(out var type))
        {
            return false;
        }

        if (type != QemuFormat.VmDescription)
        {
            // QEMU warns "Expected vmdescription section, but got %d" and keeps the state it loaded.
            _stage = Stage.Done;
            return true;
        }

        reader.Advance(1);
        if (!TryReadBe32(ref reader, out var length))
        {
            return false;
        }

        if (length > (uint)_limits.MaxVmDescriptionBytes)
        {
            throw new MigrationStreamException(
                $"The VM description of {length} bytes is larger than the limit of {_limits.MaxVmDescriptionBytes}");
        }

        _payload.Start((int)length);
        _stage = Stage.DescriptionPayload;
        Begin(ref reader, "the VM description after EOF");
        return true;
    }

    /// <summary>A device section's header has been read: step over it now, or keep it and all after it for later.</summary>
    private bool StartDeviceSection(ref SequenceReader<byte> reader, byte type, uint sectionId, scoped ReadOnlySpan<byte> id, uint instanceId, uint versionId)
    {
        var name = WireText.Lenient(id);
        if (type != QemuFormat.SectionFull)
        {
            throw new MigrationStreamException(
                $"Section '{name}' {instanceId} comes as QEMU_VM_SECTION_START: VmConsole steps over device state sent whole (QEMU_VM_SECTION_FULL), and takes no iterable section but 'ram'");
        }

        _device = new DeviceSectionHeader(sectionId, name, instanceId, versionId);
        _section = SectionKind.Device;
        _sectionId = sectionId;
        if (_deviceSections!.BeginSection(_device))
        {
            _stage = Stage.DeviceState;
            return true;
        }

        _payload.Start(_deviceSections.MaxTailBytes);
        _stage = Stage.DeviceTail;
        Begin(ref reader, $"the device state from section '{name}' on (kept until the VM description after EOF)");
        return true;
    }

    private bool TryReadDeviceState(ref SequenceReader<byte> reader)
    {
        Begin(ref reader, $"the state of section '{_device.Name}'");
        if (!_deviceSections!.TrySkipState(ref reader))
        {
            return false;
        }

        _stage = Stage.Footer;
        return true;
    }

    /// <summary>Keeps every byte until the stream ends: only the description at its end says how to read them.</summary>
    private bool TryReadDeviceTail(ref SequenceReader<byte> reader)
    {
        if (reader.End)
        {
            return false;
        }

        if (_payload.IsComplete)
        {
            throw new MigrationStreamException(
                $"More than {_deviceSections!.MaxTailBytes} bytes of device state followed the RAM before the stream ended");
        }

        _payload.Append(ref reader);
        if (reader.End && _commands.ReturnPathOpen && Qemu.QemuVmDescription.Locate(_payload.Span) >= 0)
        {
            // A source with a return path sends nothing after the description and waits for SHUT: the stream ends here.
            FinishDeviceTail(_base + reader.Consumed);
            _stage = Stage.Done;
        }

        return true;
    }

    /// <summary>The stream ended in <see cref="Stage.DeviceTail"/>: the handler steps over every device section kept, up to the description.</summary>
    private void FinishDeviceTail(long length)
    {
        var json = _deviceSections!.FinishTail(_payload.Sequence, length);
        _payload.Dispose();
        _sink.OnEof();
        _sink.OnVmDescription(json);
    }
}
