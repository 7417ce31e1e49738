using System.Buffers;

namespace VmConsole.Migration.Wire;

/// <summary>
/// The device sections of the stream, handed to an <see cref="IDeviceSectionHandler"/>: each stepped over as it comes, or,
/// when the handler cannot step over one as it arrives, every byte from its state to the end of the stream kept (the
/// "device tail") and given to the handler once the stream ends.
/// </summary>
internal sealed partial class MigrationStreamParser
{
    /// <summary>The header of the device section being stepped over.</summary>
    private DeviceSectionHeader _device = new(0, "", 0, 0);

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
