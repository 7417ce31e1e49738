using System.Buffers;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Wire;

/// <summary>
/// The records of the <c>ram</c> section for a <see cref="MigrationStreamReader"/>, which reads the section headers and
/// footers: the setup's MEM_SIZE record, block list and EOS, then the page records of each part up to its EOS (QEMU's
/// ram.c, <c>ram_load_precopy</c>).
/// </summary>
/// <remarks>
/// As in the reader, a method that returns false has found its record incomplete: it has changed no state and called
/// no sink, and the reader rewinds. Used only by the task reading the stream.
/// </remarks>
internal sealed class RamSectionReader
{
    private readonly IMigrationStreamSink _sink;
    private readonly MigrationStreamLimits _limits;
    private readonly SourceCapabilities _source;
    private readonly RamPageDecoder _decoder;
    private readonly MultifdReceiver? _multifd;

    /// <summary>The RAM setup's blocks, in stream order; indexes are what the sink receives.</summary>
    private readonly List<RamBlockHeader> _blocks = [];

    /// <summary>idstr bytes to the block's index, looked up from the bytes without making a string.</summary>
    private readonly Dictionary<byte[], int> _blockIndex = new(IdStrComparer.Instance);

    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _blockLookup;

    private Step _step;

    /// <summary>Whether the section being read is the setup (else a part, or the end when <see cref="_end"/>).</summary>
    private bool _setup;

    private bool _end;

    private ulong _total;

    private ulong _remaining;

    /// <summary>Block of the previous page record in this section, for CONTINUE; -1 at each section's start.</summary>
    private int _lastBlock = -1;

    /// <param name="source">Says whether the source has postcopy-ram and x-ignore-shared (told, or learnt from the stream).</param>
    /// <param name="multifd">The multifd channels of this stream, whose SYNCs every RAM EOS waits for; null without multifd.</param>
    public RamSectionReader(IMigrationStreamSink sink, MigrationStreamLimits limits, SourceCapabilities source, MultifdReceiver? multifd = null)
    {
        _multifd = multifd;
        _sink = sink;
        _limits = limits;
        _source = source;
        _decoder = new RamPageDecoder(sink);
        _blockLookup = _blockIndex.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    private enum Step
    {
        SetupSize,
        SetupBlock,
        SetupEos,
        Records,
    }

    /// <summary>
    /// Set when a RAM EOS waits for the multifd channels' SYNCs: the read returned false, and the record is to be read
    /// again once this completes (see <see cref="TakeBarrier"/>).
    /// </summary>
    private Task? _barrier;

    /// <summary>The wait a RAM EOS asked for, once: the reader awaits it before reading the EOS again.</summary>
    public Task? TakeBarrier()
    {
        var barrier = _barrier;
        _barrier = null;
        return barrier;
    }

    /// <summary>The RAM section's id, once its start was read; parts and the end must carry it.</summary>
    public uint? SectionId { get; private set; }

    /// <summary>The record to read next, for truncation messages.</summary>
    public string Reading => _step switch
    {
        Step.SetupSize => "the RAM setup's MEM_SIZE record",
        Step.SetupBlock => "a RAM block of the RAM setup",
        Step.SetupEos => "the RAM setup's EOS record",
        _ => "a RAM page record",
    };

    /// <summary>Section <paramref name="sectionId"/> starts <c>ram</c> (its header's version was checked); refused unless it comes as QEMU_VM_SECTION_START, once.</summary>
    public void StartSetup(uint sectionId, byte type)
    {
        if (type != QemuFormat.SectionStart)
        {
            throw new MigrationStreamException(
                "Section 'ram' must come as QEMU_VM_SECTION_START and then parts, not as QEMU_VM_SECTION_FULL");
        }

        if (SectionId is { } previous)
        {
            throw new MigrationStreamException($"Section {sectionId} starts 'ram' again: section {previous} already announced the RAM blocks");
        }

        SectionId = sectionId;
        _setup = true;
        _step = Step.SetupSize;
    }

    /// <summary>A QEMU_VM_SECTION_PART or _END (<paramref name="end"/>) of section <paramref name="sectionId"/>: only RAM continues in parts.</summary>
    public void StartPart(uint sectionId, bool end)
    {
        // A part before the RAM setup names a section that was never started.
        if (sectionId != SectionId)
        {
            throw new MigrationStreamException($"Unknown savevm section {sectionId}");
        }

        // _lastBlock carries over: like QEMU's last_recv_block, a part may start with CONTINUE on the block the
        // previous part ended in.
        _setup = false;
        _end = end;
        _step = Step.Records;
    }

    /// <summary>Reads the next record of the section; <paramref name="done"/> once its EOS was read (its footer comes next).</summary>
    public bool TryRead(ref SequenceReader<byte> reader, scoped Span<byte> idStr, out bool done)
    {
        done = false;
        switch (_step)
        {
            case Step.SetupSize:
                if (!TryReadSetupSize(ref reader, out var blocksFollow))
                {
                    return false;
                }

                _step = blocksFollow ? Step.SetupBlock : Step.SetupEos;
                return true;
            case Step.SetupBlock:
                if (!TryReadSetupBlock(ref reader, idStr, out var last))
                {
                    return false;
                }

                _step = last ? Step.SetupEos : Step.SetupBlock;
                return true;
            case Step.SetupEos:
                done = TryReadSetupEos(ref reader) && PassSync();
                if (done)
                {
                    // The list is whole at its EOS: the sink and the multifd channels have the blocks now, not at the
                    // footer, which a QEMU source may not flush until its channels have sent pages into these blocks.
                    var blocks = _blocks.ToArray();
                    _sink.OnRamBlocks(blocks);
                    _multifd?.SetBlocks(blocks, _sink as IMultifdPageSink);
                }

                return done;
            default:
                return TryReadRecord(ref reader, idStr, out done);
        }
    }

    /// <summary>The section's footer has been read: tells the sink that a part or the end is done (the setup's blocks went at its EOS).</summary>
    public void EndSection()
    {
        if (!_setup)
        {
            _sink.OnRamSectionDone(_end);
        }
    }

    /// <summary>The MEM_SIZE record; <paramref name="blocksFollow"/> is false when it announces no RAM (EOS comes next).</summary>
    private bool TryReadSetupSize(ref SequenceReader<byte> reader, out bool blocksFollow)
    {
        blocksFollow = false;
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

        _total = total;
        _remaining = total;
        blocksFollow = total != 0;
        return true;
    }

    /// <summary>One block of the setup; <paramref name="last"/> when it used up the announced total (EOS comes next).</summary>
    private bool TryReadSetupBlock(ref SequenceReader<byte> reader, scoped Span<byte> idStr, out bool last)
    {
        last = false;
        if (!TryReadIdStr(ref reader, idStr, out var idLength) || !TryReadBe64(ref reader, out var usedLength)
            || !RamBlockExtras.TryRead(ref reader, _source.PostcopyRam, _source.XIgnoreShared, lastBlock: usedLength == _remaining, out var pageSize, out var address))
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

        if (usedLength > _remaining)
        {
            throw new MigrationStreamException(
                $"RAM setup: block '{name}' of 0x{usedLength:x} bytes is larger than the 0x{_remaining:x} bytes left of the announced total 0x{_total:x}");
        }

        if (_blockLookup.ContainsKey(id))
        {
            throw new MigrationStreamException($"RAM setup: block '{name}' is announced twice");
        }

        _blockIndex.Add(id.ToArray(), number);
        _blocks.Add(new RamBlockHeader(name, (long)usedLength) { PageSize = pageSize, GuestAddress = address });
        _remaining -= usedLength;
        last = _remaining == 0;
        return true;
    }

    /// <summary>The EOS record that closes the setup.</summary>
    private static bool TryReadSetupEos(ref SequenceReader<byte> reader)
    {
        if (!TryReadBe64(ref reader, out var word))
        {
            return false;
        }

        var flags = word & QemuFormat.RamFlagMask;
        if (flags != QemuFormat.RamFlagEos)
        {
            throw new MigrationStreamException($"RAM setup: expected RAM_SAVE_FLAG_EOS after the blocks, got flags 0x{flags:x}");
        }

        return true;
    }

    /// <summary>One record of a part: a page (given to the sink), or the EOS that ends the part (<paramref name="eos"/>).</summary>
    private bool TryReadRecord(ref SequenceReader<byte> reader, scoped Span<byte> idStr, out bool eos)
    {
        eos = false;
        if (!TryReadBe64(ref reader, out var word))
        {
            return false;
        }

        var flags = word & QemuFormat.RamFlagMask;
        var offset = word & ~QemuFormat.RamFlagMask;
        if (flags == QemuFormat.RamFlagEos)
        {
            eos = PassSync();
            return eos;
        }

        var kind = flags & ~QemuFormat.RamFlagContinue;
        if (kind is not (QemuFormat.RamFlagZero or QemuFormat.RamFlagPage or QemuFormat.RamFlagXbzrle or QemuFormat.RamFlagCompressPage))
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

        if (kind is QemuFormat.RamFlagXbzrle or QemuFormat.RamFlagCompressPage)
        {
            var read = kind == QemuFormat.RamFlagXbzrle
                ? _decoder.TryReadXbzrle(ref reader, block, (long)offset)
                : _decoder.TryReadCompressed(ref reader, block, (long)offset);
            if (read)
            {
                _lastBlock = block;
            }

            return read;
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

    /// <summary>
    /// At a RAM EOS with multifd (QEMU's <c>multifd_recv_sync_main</c>): true once every channel has sent its SYNC; else
    /// false with <see cref="_barrier"/> set, and nothing changed, so that the EOS is read again after the wait.
    /// </summary>
    private bool PassSync()
    {
        if (_multifd is null || _multifd.TryPassSync(out var wait))
        {
            return true;
        }

        _barrier = wait;
        return false;
    }

    private static MigrationStreamException UnknownFlags(ulong flags) => new($"Unknown combination of migration flags: 0x{flags:x}");
}
