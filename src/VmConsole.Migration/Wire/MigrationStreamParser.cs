using System.Buffers;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Wire;

/// <summary>
/// The grammar of QEMU 7.2's migration stream for a <see cref="MigrationStreamReader"/>, which feeds it the pipe's
/// buffers: record by record, in stages (header, configuration, sections with their footers, EOF, description), telling
/// the sink what each complete record holds. This file holds the stages and the records outside sections; sections are
/// framed in <c>MigrationStreamParser.Sections.cs</c> (the <c>ram</c> section's records read by
/// <see cref="RamSectionReader"/>, commands by <see cref="MigrationCommandReader"/>), and device sections are handed to an
/// <see cref="IDeviceSectionHandler"/> in <c>MigrationStreamParser.DeviceSections.cs</c>.
/// </summary>
/// <remarks>Used only by the task reading the stream.</remarks>
internal sealed partial class MigrationStreamParser : IDisposable
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

    /// <param name="returnPath">Where the answers to the source go (a live migration); null for a file.</param>
    /// <param name="capabilities">What the destination was told of the source's capabilities.</param>
    /// <param name="multifd">The stream's multifd channels; null without multifd.</param>
    public MigrationStreamParser(
        IMigrationStreamSink sink,
        MigrationStreamLimits limits,
        IDeviceSectionHandler? deviceSections,
        IMigrationReturnPath? returnPath = null,
        IncomingCapabilities? capabilities = null,
        MultifdReceiver? multifd = null)
    {
        _sink = sink;
        _limits = limits;
        _deviceSections = deviceSections;
        _source = new SourceCapabilities(capabilities ?? IncomingCapabilities.Default);
        _commands = new MigrationCommandReader(returnPath, _source);
        _ram = new RamSectionReader(sink, _limits, _source, multifd);
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

    /// <summary>Whether the stream has been read to its end (the description, or what may follow EOF).</summary>
    public bool Done => _stage == Stage.Done;

    /// <summary>Whether every byte is being kept until the stream ends (see <see cref="IDeviceSectionHandler.FinishTail"/>).</summary>
    public bool KeepingTail => _stage == Stage.DeviceTail;

    /// <summary>A RAM EOS that waits for the multifd channels' SYNCs (the last <see cref="Step"/> returned false for it), once.</summary>
    public Task? TakeBarrier() => _ram.TakeBarrier();

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
}
