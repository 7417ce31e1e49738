using System.Buffers;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Wire;

/// <summary>
/// The framing of sections in the stream: a section header read and sent to its reader (<c>ram</c> to the
/// <see cref="RamSectionReader"/>, <c>vmconsole/state</c> to a payload, any other to the device-section stages, a command
/// to the <see cref="MigrationCommandReader"/>), and the footer that closes a section.
/// </summary>
internal sealed partial class MigrationStreamParser
{
    private enum SectionKind
    {
        Ram,
        VmConsoleState,
        Device,
    }

    /// <summary>The section whose payload is being read and whose footer closes it.</summary>
    private SectionKind _section;

    private uint _sectionId;

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
}
