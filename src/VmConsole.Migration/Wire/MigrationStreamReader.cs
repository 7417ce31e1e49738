using System.Buffers;
using System.IO.Pipelines;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Qemu;

namespace VmConsole.Migration.Wire;

/// <summary>
/// Reads QEMU 7.2's migration stream from a <see cref="PipeReader"/> and tells an <see cref="IMigrationStreamSink"/>
/// what it finds, in order. Every malformed, hostile or truncated stream ends in a <see cref="MigrationStreamException"/>
/// whose message uses QEMU's words where QEMU has them (savevm.c, ram.c).
/// </summary>
/// <remarks>
/// <para>
/// The stream: the header, the configuration section (required first, as in QEMU), then sections until EOF, then
/// optionally the JSON description. After EOF the reader waits for the description or for the end of the stream;
/// any other byte after EOF ends the read without an error (QEMU only warns "Expected vmdescription section").
/// </para>
/// <para>
/// Each buffer the pipe returns is parsed synchronously, one record after another; the reader awaits only when a record
/// is incomplete. Pages reach the sink as slices of the pipe's buffers, never copied. Length-prefixed payloads
/// (device state, description) are gathered as they arrive, bounded by <see cref="MigrationStreamLimits"/>.
/// </para>
/// <para>
/// Not thread-safe: one task runs <see cref="ReadToEndAsync"/>, once. <see cref="BytesRead"/> may be read from any thread.
/// </para>
/// </remarks>
public sealed class MigrationStreamReader
{
    private const string RamName = "ram";
    private const string StateName = "vmconsole/state";

    private readonly PipeReader _input;
    private readonly IMigrationStreamSink _sink;
    private readonly MigrationStreamLimits _limits;
    private readonly DeviceStateSkipping? _deviceStates;

    // Everything below is written and read only by the task running ReadToEndAsync.

    /// <summary>The RAM setup's blocks, in stream order; indexes are what the sink receives.</summary>
    private readonly List<RamBlockHeader> _blocks = [];

    /// <summary>idstr bytes to the block's index, looked up from the bytes without making a string.</summary>
    private readonly Dictionary<byte[], int> _blockIndex = new(IdStrComparer.Instance);

    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _blockLookup;

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

    /// <summary>The RAM section's id, once its start was read; parts and the end must carry it.</summary>
    private uint? _ramSectionId;

    private ulong _ramTotal;

    private ulong _ramRemaining;

    /// <summary>Block of the previous page record in this section, for CONTINUE; -1 at each section's start.</summary>
    private int _lastBlock = -1;

    private int _started;

    /// <summary>Device sections stepped over so far (only with <see cref="DeviceStateSkipping"/>).</summary>
    private readonly List<NotImportedDeviceSection> _skipped = [];

    /// <summary>The device section being stepped over: its header, and its description when known.</summary>
    private NotImportedDeviceSection _device = new("", 0, 0, 0);

    private DeviceSectionDescription? _deviceDescription;

    /// <summary>Written by the reading task (Volatile), read by anyone through <see cref="BytesRead"/>.</summary>
    private long _bytesRead;

    /// <param name="deviceStates">When given, device sections VmConsole does not model are stepped over with QEMU's
    /// description after EOF (see <see cref="DeviceStateSkipping"/>); without it they are refused.</param>
    public MigrationStreamReader(PipeReader input, IMigrationStreamSink sink, MigrationStreamLimits? limits = null, DeviceStateSkipping? deviceStates = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(sink);
        _input = input;
        _sink = sink;
        _limits = limits ?? MigrationStreamLimits.Default;
        _deviceStates = deviceStates;
        _blockLookup = _blockIndex.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    private enum Stage
    {
        Header,
        Configuration,
        Section,
        RamSetupSize,
        RamSetupBlock,
        RamSetupEos,
        RamRecord,
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
        RamSetup,
        RamPart,
        RamEnd,
        VmConsoleState,
        Device,
    }

    /// <summary>Bytes consumed from the stream so far.</summary>
    public long BytesRead => Volatile.Read(ref _bytesRead);

    /// <summary>The device sections stepped over, in stream order; complete once <see cref="ReadToEndAsync"/> has returned.</summary>
    public IReadOnlyList<NotImportedDeviceSection> SkippedSections => _skipped;

    /// <summary>
    /// Reads the whole stream: the header, then sections until EOF and the optional description, calling the sink in
    /// order. Completes the <see cref="PipeReader"/> when done or on error: with the error (so an in-process writer's
    /// next flush throws it), or without one when canceled (the writer's flush then reports the stream closed).
    /// </summary>
    /// <exception cref="MigrationStreamException">The stream is malformed, truncated or beyond the limits, or the
    /// pipe failed; or the sink refused something (its exception passes unchanged, of whatever type).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired or the read was canceled.</exception>
    /// <exception cref="InvalidOperationException">Called a second time: a reader reads its stream once.</exception>
    public async Task ReadToEndAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A MigrationStreamReader reads its stream once.");
        }

        Exception? failure = null;
        try
        {
            while (_stage != Stage.Done)
            {
                var result = await ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                var consumed = Parse(buffer, result.IsCompleted);
                _input.AdvanceTo(consumed, buffer.End);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The writer's next flush throws this (an in-process Pipe); a canceled read just closes the stream.
            failure = ex;
            throw;
        }
        finally
        {
            _payload.Dispose();
            await _input.CompleteAsync(failure).ConfigureAwait(false);
        }
    }

    private async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken)
    {
        ReadResult result;
        try
        {
            result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or MigrationStreamException))
        {
            throw new MigrationStreamException($"migration stream failed after {BytesRead} bytes: {ex.Message}", ex);
        }

        if (result.IsCanceled)
        {
            throw new OperationCanceledException("Reading the migration stream was canceled.", cancellationToken);
        }

        return result;
    }

    /// <summary>Parses every complete record in <paramref name="buffer"/>; returns how far it consumed.</summary>
    private SequencePosition Parse(ReadOnlySequence<byte> buffer, bool isCompleted)
    {
        var reader = new SequenceReader<byte>(buffer);
        Span<byte> idStr = stackalloc byte[WireText.MaxIdStrLength];
        _base = _bytesRead;
        while (_stage != Stage.Done)
        {
            var mark = reader.Consumed;
            if (!Step(ref reader, idStr))
            {
                // The record is incomplete: give its bytes back and wait for the rest.
                reader.Rewind(reader.Consumed - mark);
                break;
            }
        }

        if (_stage != Stage.Done && isCompleted)
        {
            if (_stage == Stage.DeviceTail && reader.End)
            {
                Volatile.Write(ref _bytesRead, _base + reader.Consumed);
                FinishDeviceTail();
                _stage = Stage.Done;
            }
            else if (_stage == Stage.AfterEof && reader.End)
            {
                _stage = Stage.Done; // The stream ended after EOF without a description: QEMU only warns.
            }
            else
            {
                throw new TruncatedStreamException(
                    $"truncated migration stream: it ended at byte {_base + buffer.Length} while reading {_reading} (from byte {_unitStart})");
            }
        }

        Volatile.Write(ref _bytesRead, _base + reader.Consumed);
        return reader.Position;
    }

    /// <summary>
    /// Parses one record. False when the buffer ends inside it: then it has changed no parse state (only what a truncation
    /// message would name) and called no sink, and the caller rewinds. A sink is called only once its record is complete.
    /// </summary>
    private bool Step(ref SequenceReader<byte> reader, scoped Span<byte> idStr) => _stage switch
    {
        Stage.Header => TryReadHeader(ref reader),
        Stage.Configuration => TryReadConfiguration(ref reader),
        Stage.Section => TryReadSectionHeader(ref reader, idStr),
        Stage.RamSetupSize => TryReadRamSetupSize(ref reader),
        Stage.RamSetupBlock => TryReadRamSetupBlock(ref reader, idStr),
        Stage.RamSetupEos => TryReadRamSetupEos(ref reader),
        Stage.RamRecord => TryReadRamRecord(ref reader, idStr),
        Stage.StatePayload or Stage.DescriptionPayload => TryReadPayload(ref reader),
        Stage.Footer => TryReadFooter(ref reader),
        Stage.DeviceState => TryReadDeviceState(ref reader),
        Stage.DeviceTail => TryReadDeviceTail(ref reader),
        Stage.AfterEof => TryReadAfterEof(ref reader),
        _ => throw new InvalidOperationException($"No record to read in stage {_stage}."),
    };

    private void Begin(ref SequenceReader<byte> reader, string reading)
    {
        _reading = reading;
        _unitStart = _base + reader.Consumed;
    }

    private bool TryReadHeader(ref SequenceReader<byte> reader)
    {
        Begin(ref reader, "the file header");
        if (!TryReadBe32(ref reader, out var magic))
        {
            return false;
        }

        if (magic != QemuFormat.FileMagic)
        {
            throw new MigrationStreamException("Not a migration stream");
        }

        if (!TryReadBe32(ref reader, out var version))
        {
            return false;
        }

        if (version == 2)
        {
            throw new MigrationStreamException("SaveVM v2 format is obsolete and don't work anymore");
        }

        if (version != QemuFormat.FileVersion)
        {
            throw new MigrationStreamException("Unsupported migration stream version");
        }

        _stage = Stage.Configuration;
        return true;
    }

    private bool TryReadConfiguration(ref SequenceReader<byte> reader)
    {
        Begin(ref reader, "the configuration section");
        if (!reader.TryRead(out var type))
        {
            return false;
        }

        if (type != QemuFormat.Configuration)
        {
            throw new MigrationStreamException("Configuration section missing");
        }

        if (!TryReadBe32(ref reader, out var length))
        {
            return false;
        }

        if (length > (uint)_limits.MaxMachineTypeLength)
        {
            throw new MigrationStreamException(
                $"Configuration section: a machine type of {length} bytes is longer than the limit of {_limits.MaxMachineTypeLength}");
        }

        if (reader.Remaining < length)
        {
            return false;
        }

        var name = reader.UnreadSequence.Slice(0, length);
        if (!WireText.TryDecode(name, out var machineType))
        {
            throw new MigrationStreamException("Configuration section: the machine type is not valid UTF-8");
        }

        reader.Advance(length);
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
                throw new MigrationStreamException(
                    "Unsupported savevm section type 8 (QEMU_VM_COMMAND): VmConsole takes no migration commands (postcopy, return path, packaged streams)");
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
        var isRam = id.SequenceEqual("ram"u8);
        if (_deviceStates is not null && !isRam && !id.SequenceEqual("vmconsole/state"u8))
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
            if (type != QemuFormat.SectionStart)
            {
                throw new MigrationStreamException(
                    "Section 'ram' must come as QEMU_VM_SECTION_START and then parts, not as QEMU_VM_SECTION_FULL");
            }

            if (_ramSectionId is { } previous)
            {
                throw new MigrationStreamException($"Section {sectionId} starts 'ram' again: section {previous} already announced the RAM blocks");
            }

            _ramSectionId = sectionId;
            _section = SectionKind.RamSetup;
            _sectionId = sectionId;
            _stage = Stage.RamSetupSize;
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

        // Only RAM continues in parts; a part before the RAM setup names a section that was never started.
        if (sectionId != _ramSectionId)
        {
            throw new MigrationStreamException($"Unknown savevm section {sectionId}");
        }

        _section = type == QemuFormat.SectionEnd ? SectionKind.RamEnd : SectionKind.RamPart;
        _sectionId = sectionId;

        // _lastBlock carries over: like QEMU's last_recv_block, a part may start with CONTINUE on the block the
        // previous part ended in.
        _stage = Stage.RamRecord;
        return true;
    }

    private bool TryReadRamSetupSize(ref SequenceReader<byte> reader)
    {
        Begin(ref reader, "the RAM setup's MEM_SIZE record");
        if (!TryReadBe64(ref reader, out var word))
        {
            return false;
        }

        var flags = word & QemuFormat.RamFlagMask;
        if ((flags & QemuFormat.RamFlagMemSize) == 0)
        {
            throw new MigrationStreamException(
                $"RAM setup: expected a RAM_SAVE_FLAG_MEM_SIZE record with the total RAM size, got flags 0x{flags:x}");
        }

        if (flags != QemuFormat.RamFlagMemSize)
        {
            throw UnknownFlags(flags);
        }

        var total = word & ~QemuFormat.RamFlagMask;
        if (total > (ulong)_limits.MaxTotalRamBytes)
        {
            throw new MigrationStreamException(
                $"RAM setup: {total} bytes of RAM announced, more than the limit of {_limits.MaxTotalRamBytes}");
        }

        _ramTotal = total;
        _ramRemaining = total;
        _stage = total == 0 ? Stage.RamSetupEos : Stage.RamSetupBlock;
        return true;
    }

    private bool TryReadRamSetupBlock(ref SequenceReader<byte> reader, scoped Span<byte> idStr)
    {
        Begin(ref reader, "a RAM block of the RAM setup");
        if (!TryReadIdStr(ref reader, idStr, out var idLength) || !TryReadBe64(ref reader, out var usedLength))
        {
            return false;
        }

        var number = _blocks.Count;
        if (number >= _limits.MaxRamBlocks)
        {
            throw new MigrationStreamException($"RAM setup: more than {_limits.MaxRamBlocks} RAM blocks announced");
        }

        if (idLength == 0)
        {
            throw new MigrationStreamException($"RAM setup: block {number} has an empty idstr");
        }

        var id = idStr[..idLength];
        if (!WireText.TryDecode(id, out var name))
        {
            throw new MigrationStreamException($"RAM setup: the idstr of block {number} is not valid UTF-8");
        }

        if (usedLength == 0 || usedLength % QemuFormat.TargetPageSize != 0)
        {
            throw new MigrationStreamException(
                $"RAM setup: block '{name}' has used_length 0x{usedLength:x}, not a positive multiple of the {QemuFormat.TargetPageSize}-byte target page");
        }

        if (usedLength > _ramRemaining)
        {
            throw new MigrationStreamException(
                $"RAM setup: block '{name}' of 0x{usedLength:x} bytes is larger than the 0x{_ramRemaining:x} bytes left of the announced total 0x{_ramTotal:x}");
        }

        if (_blockLookup.ContainsKey(id))
        {
            throw new MigrationStreamException($"RAM setup: block '{name}' is announced twice");
        }

        _blockIndex.Add(id.ToArray(), number);
        _blocks.Add(new RamBlockHeader(name, (long)usedLength));
        _ramRemaining -= usedLength;
        if (_ramRemaining == 0)
        {
            _stage = Stage.RamSetupEos;
        }

        return true;
    }

    private bool TryReadRamSetupEos(ref SequenceReader<byte> reader)
    {
        Begin(ref reader, "the RAM setup's EOS record");
        if (!TryReadBe64(ref reader, out var word))
        {
            return false;
        }

        var flags = word & QemuFormat.RamFlagMask;
        if (flags != QemuFormat.RamFlagEos)
        {
            throw new MigrationStreamException($"RAM setup: expected RAM_SAVE_FLAG_EOS after the blocks, got flags 0x{flags:x}");
        }

        _stage = Stage.Footer;
        return true;
    }

    private bool TryReadRamRecord(ref SequenceReader<byte> reader, scoped Span<byte> idStr)
    {
        Begin(ref reader, "a RAM page record");
        if (!TryReadBe64(ref reader, out var word))
        {
            return false;
        }

        var flags = word & QemuFormat.RamFlagMask;
        var offset = word & ~QemuFormat.RamFlagMask;
        if (flags == QemuFormat.RamFlagEos)
        {
            _stage = Stage.Footer;
            return true;
        }

        var kind = flags & ~QemuFormat.RamFlagContinue;
        if (kind is not (QemuFormat.RamFlagZero or QemuFormat.RamFlagPage))
        {
            throw UnknownFlags(flags);
        }

        int block;
        if ((flags & QemuFormat.RamFlagContinue) != 0)
        {
            if (_lastBlock < 0)
            {
                throw new MigrationStreamException("Ack, bad migration stream!");
            }

            block = _lastBlock;
        }
        else
        {
            if (!TryReadIdStr(ref reader, idStr, out var idLength))
            {
                return false;
            }

            if (!_blockLookup.TryGetValue(idStr[..idLength], out block))
            {
                throw new MigrationStreamException($"Can't find block {WireText.Lenient(idStr[..idLength])}");
            }
        }

        // Offsets and used lengths are both page multiples, so offset < used_length leaves room for the whole page.
        if (offset >= (ulong)_blocks[block].UsedLength)
        {
            throw new MigrationStreamException($"Illegal RAM offset {offset:x}");
        }

        if (kind == QemuFormat.RamFlagZero)
        {
            if (!reader.TryRead(out var fill))
            {
                return false;
            }

            _lastBlock = block;
            _sink.OnZeroPage(block, (long)offset, fill);
            return true;
        }

        if (reader.Remaining < QemuFormat.TargetPageSize)
        {
            return false;
        }

        var data = reader.UnreadSequence.Slice(0, QemuFormat.TargetPageSize);
        reader.Advance(QemuFormat.TargetPageSize);
        _lastBlock = block;
        _sink.OnPage(block, (long)offset, data);
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
            case SectionKind.RamSetup:
                _sink.OnRamBlocks(_blocks.ToArray());
                break;
            case SectionKind.RamPart:
                _sink.OnRamSectionDone(end: false);
                break;
            case SectionKind.RamEnd:
                _sink.OnRamSectionDone(end: true);
                break;
            case SectionKind.VmConsoleState:
                _sink.OnVmConsoleState(_payload.Sequence);
                _payload.Dispose();
                break;
            case SectionKind.Device:
                _skipped.Add(_device);
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

        _device = new NotImportedDeviceSection(name, instanceId, versionId, 0);
        _section = SectionKind.Device;
        _sectionId = sectionId;
        if (_deviceStates!.Description is { } description)
        {
            _deviceDescription = description.Find(name, instanceId) ?? throw UnknownSection(name, instanceId);
            QemuDeviceVersions.Check(name, versionId);
            _stage = Stage.DeviceState;
            return true;
        }

        QemuDeviceVersions.Check(name, versionId);

        _payload.Start(_deviceStates.MaxDeviceStateBytes);
        _stage = Stage.DeviceTail;
        Begin(ref reader, $"the device state from section '{name}' on (kept until the VM description after EOF)");
        return true;
    }

    private bool TryReadDeviceState(ref SequenceReader<byte> reader)
    {
        Begin(ref reader, $"the state of section '{_device.Name}'");
        var start = reader.Consumed;
        if (!DeviceStateSkipper.TrySkip(ref reader, _deviceDescription!.State, _device.Name))
        {
            return false;
        }

        _device = _device with { Bytes = reader.Consumed - start };
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
                $"More than {_deviceStates!.MaxDeviceStateBytes} bytes of device state followed the RAM before the stream ended");
        }

        _payload.Append(ref reader);
        return true;
    }

    /// <summary>The stream ended in <see cref="Stage.DeviceTail"/>: find the description at its end and step over every device section before it.</summary>
    private void FinishDeviceTail()
    {
        var tail = _payload.Span;
        var start = QemuVmDescription.Locate(tail);
        if (start < 0)
        {
            throw new MigrationStreamException(
                $"Section '{_device.Name}' {_device.InstanceId} cannot be stepped over: the stream does not end with the VM description QEMU writes after EOF");
        }

        if (!WireText.TryDecode(tail[start..], out var json))
        {
            throw new MigrationStreamException("The VM description is not valid UTF-8");
        }

        var description = QemuVmDescription.Parse(json);
        var reader = new SequenceReader<byte>(_payload.Sequence.Slice(0, start - 5));
        Span<byte> idStr = stackalloc byte[WireText.MaxIdStrLength];
        var device = _device;
        while (true)
        {
            var found = description.Find(device.Name, device.InstanceId) ?? throw UnknownSection(device.Name, device.InstanceId);
            var bodyStart = reader.Consumed;
            if (!DeviceStateSkipper.TrySkip(ref reader, found.State, device.Name))
            {
                throw TailTruncated($"the state of section '{device.Name}'");
            }

            var bytes = reader.Consumed - bodyStart;
            if (!reader.TryRead(out var mark) || !TryReadBe32(ref reader, out var footerId))
            {
                throw TailTruncated($"the footer of section '{device.Name}'");
            }

            if (mark != QemuFormat.SectionFooter)
            {
                throw new MigrationStreamException($"Missing section footer for {device.Name}");
            }

            if (footerId != _sectionId)
            {
                throw new MigrationStreamException($"Mismatched section id in footer for {device.Name} - read 0x{footerId:x} expected 0x{_sectionId:x}");
            }

            _skipped.Add(device with { Bytes = bytes });
            if (!reader.TryRead(out var type))
            {
                throw TailTruncated("a section header (the stream has not reached EOF)");
            }

            if (type == QemuFormat.Eof)
            {
                break;
            }

            if (type != QemuFormat.SectionFull)
            {
                throw new MigrationStreamException($"Unexpected savevm section type {type} among the device sections that follow the RAM");
            }

            if (!TryReadBe32(ref reader, out var sectionId)
                || !TryReadIdStr(ref reader, idStr, out var idLength)
                || !TryReadBe32(ref reader, out var instanceId)
                || !TryReadBe32(ref reader, out var versionId))
            {
                throw TailTruncated("a section header");
            }

            _sectionId = sectionId;
            device = new NotImportedDeviceSection(WireText.Lenient(idStr[..idLength]), instanceId, versionId, 0);
            QemuDeviceVersions.Check(device.Name, versionId);
        }

        if (!reader.End)
        {
            throw new MigrationStreamException("Expected vmdescription section right after EOF, found more bytes");
        }

        _payload.Dispose();
        _sink.OnEof();
        _sink.OnVmDescription(json);
    }

    private TruncatedStreamException TailTruncated(string reading) =>
        new($"truncated migration stream: it ended at byte {BytesRead} while reading {reading}");

    private static MigrationStreamException UnknownSection(string name, uint instanceId) =>
        new($"Unknown savevm section or instance '{name}' {instanceId}. Make sure that your current VM setup matches your saved VM setup, including any hotplugged devices");

    private static MigrationStreamException UnknownFlags(ulong flags) => new($"Unknown combination of migration flags: 0x{flags:x}");

    private static bool TryReadBe32(ref SequenceReader<byte> reader, out uint value)
    {
        var read = reader.TryReadBigEndian(out int signed);
        value = (uint)signed;
        return read;
    }

    private static bool TryReadBe64(ref SequenceReader<byte> reader, out ulong value)
    {
        var read = reader.TryReadBigEndian(out long signed);
        value = (ulong)signed;
        return read;
    }

    /// <summary>A counted string (QEMU's <c>qemu_get_counted_string</c>): one length byte, then that many bytes.</summary>
    private static bool TryReadIdStr(ref SequenceReader<byte> reader, scoped Span<byte> buffer, out int length)
    {
        length = 0;
        if (!reader.TryRead(out var count) || !reader.TryCopyTo(buffer[..count]))
        {
            return false;
        }

        reader.Advance(count);
        length = count;
        return true;
    }
}
