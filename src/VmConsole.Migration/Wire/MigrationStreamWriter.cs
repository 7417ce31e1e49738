using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;

namespace VmConsole.Migration.Wire;

/// <summary>
/// Writes QEMU 7.2's migration stream (savevm.c, ram.c) to a <see cref="PipeWriter"/>: the header, the
/// configuration section, the RAM section (setup, then parts and its end, page by page), VmConsole's own
/// device-state section, EOF and the JSON description.
/// </summary>
/// <remarks>
/// Records go straight into the pipe's buffers (<see cref="PipeWriter.GetSpan"/> and <see cref="PipeWriter.Advance"/>);
/// nothing is allocated per page. Nothing reaches the peer until <see cref="FlushAsync"/>.
/// Not thread-safe: one migration worker owns a writer. <see cref="BytesWritten"/> may be read from any thread.
/// </remarks>
public sealed class MigrationStreamWriter
{
    /// <summary>be64 address word, byte length, idstr of at most 255 bytes.</summary>
    private const int MaxRecordHeaderLength = sizeof(ulong) + 1 + WireText.MaxIdStrLength;

    private readonly PipeWriter _output;

    // All of the following are written and read only by the owning worker (the writer is not thread-safe).

    /// <summary>Per block of the RAM setup, in its order: the idstr's UTF-8 bytes, as page records carry them.</summary>
    private byte[][] _idStrs = [];

    /// <summary>Per block of the RAM setup: its used_length.</summary>
    private long[] _usedLengths = [];

    private bool _ramSetupWritten;

    /// <summary>EOF is written: the peer may now finish (and complete its reader) at any moment without that being an error.</summary>
    private bool _eofWritten;

    /// <summary>The RAM part or end being written, between <see cref="BeginRamSection"/> and <see cref="EndRamSection"/>.</summary>
    private uint? _openRamSection;

    /// <summary>Block of the previous page record in the open section: the next record to the same block says CONTINUE.</summary>
    private int _lastBlock = -1;

    /// <summary>Written by the owning worker only (Volatile), read by anyone through <see cref="BytesWritten"/>.</summary>
    private long _bytesWritten;

    public MigrationStreamWriter(PipeWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
    }

    /// <summary>Every byte written so far, flushed or not.</summary>
    public long BytesWritten => Volatile.Read(ref _bytesWritten);

    /// <summary>The file header: be32 magic "QEVM", be32 version 3.</summary>
    public void WriteHeader()
    {
        var span = _output.GetSpan(8);
        BinaryPrimitives.WriteUInt32BigEndian(span, QemuFormat.FileMagic);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], QemuFormat.FileVersion);
        Advance(8);
    }

    /// <summary>The configuration section: byte 0x07, be32 length, the machine type's name.</summary>
    public void WriteConfiguration(string machineType) => WriteTextSection(QemuFormat.Configuration, machineType, nameof(machineType));

    /// <summary>
    /// The RAM section's start: the total of the blocks' used lengths with MEM_SIZE, then each block's idstr and
    /// used_length, then EOS and the footer. Page records then name blocks by their index in <paramref name="blocks"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An idstr is empty, longer than 255 UTF-8 bytes, not valid UTF-16 or
    /// repeated; a used_length is not a positive multiple of <see cref="QemuFormat.TargetPageSize"/>.</exception>
    public void WriteRamSetup(uint sectionId, IReadOnlyList<RamBlockHeader> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        var idStrs = new byte[blocks.Count][];
        var usedLengths = new long[blocks.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long total = 0;
        for (var i = 0; i < blocks.Count; i++)
        {
            var (idStr, usedLength) = blocks[i];
            ArgumentNullException.ThrowIfNull(idStr, nameof(blocks));
            var length = WireText.StrictByteCount(idStr, nameof(blocks));
            if (length is 0 or > WireText.MaxIdStrLength)
            {
                throw new ArgumentException($"RAM block {i}: an idstr needs 1 to 255 UTF-8 bytes, '{idStr}' has {length}.", nameof(blocks));
            }

            if (usedLength <= 0 || usedLength % QemuFormat.TargetPageSize != 0)
            {
                throw new ArgumentException(
                    $"RAM block '{idStr}': used_length {usedLength} is not a positive multiple of {QemuFormat.TargetPageSize}.", nameof(blocks));
            }

            if (!seen.Add(idStr))
            {
                throw new ArgumentException($"RAM block '{idStr}' appears twice.", nameof(blocks));
            }

            if (usedLength > long.MaxValue - total)
            {
                throw new ArgumentException("The blocks' used lengths add up to more than a be64 can carry.", nameof(blocks));
            }

            idStrs[i] = Encoding.UTF8.GetBytes(idStr);
            usedLengths[i] = usedLength;
            total += usedLength;
        }

        WriteSectionHeader(QemuFormat.SectionStart, sectionId, "ram"u8, QemuFormat.RamInstanceId, QemuFormat.RamVersionId);
        WriteBe64((ulong)total | QemuFormat.RamFlagMemSize);
        for (var i = 0; i < idStrs.Length; i++)
        {
            var idStr = idStrs[i];
            var length = 1 + idStr.Length + sizeof(ulong);
            var span = _output.GetSpan(length);
            span[0] = (byte)idStr.Length;
            idStr.CopyTo(span[1..]);
            BinaryPrimitives.WriteUInt64BigEndian(span[(1 + idStr.Length)..], (ulong)usedLengths[i]);
            Advance(length);
        }

        WriteBe64(QemuFormat.RamFlagEos);
        WriteFooter(sectionId);

        _idStrs = idStrs;
        _usedLengths = usedLengths;
        _ramSetupWritten = true;
        _openRamSection = null;
        _lastBlock = -1;
    }

    /// <summary>A RAM section part (0x02) or its end (0x03): the section type and id. Page records follow.</summary>
    /// <exception cref="InvalidOperationException">No RAM setup was written yet, or a RAM part is still open.</exception>
    public void BeginRamSection(uint sectionId, bool end)
    {
        if (!_ramSetupWritten)
        {
            throw new InvalidOperationException("WriteRamSetup must come before the RAM section's parts.");
        }

        if (_openRamSection is { } open)
        {
            throw new InvalidOperationException($"RAM section part {open} is still open: call EndRamSection first.");
        }

        var span = _output.GetSpan(5);
        span[0] = end ? QemuFormat.SectionEnd : QemuFormat.SectionPart;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], sectionId);
        Advance(5);
        _openRamSection = sectionId;
        _lastBlock = -1;
    }

    /// <summary>A page whose bytes all equal <paramref name="fill"/>: be64 (offset | ZERO), the block, one byte.</summary>
    public void WriteZeroPage(int block, long offset, byte fill)
    {
        var span = WritePageHeader(block, offset, QemuFormat.RamFlagZero, trailer: 1, out var length);
        span[length] = fill;
        Advance(length + 1);
    }

    /// <summary>A raw page: be64 (offset | PAGE), the block, then <see cref="QemuFormat.TargetPageSize"/> bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="data"/> is not exactly one target page.</exception>
    public void WritePage(int block, long offset, ReadOnlySpan<byte> data)
    {
        if (data.Length != QemuFormat.TargetPageSize)
        {
            throw new ArgumentException($"A page record carries {QemuFormat.TargetPageSize} bytes, not {data.Length}.", nameof(data));
        }

        WritePageHeader(block, offset, QemuFormat.RamFlagPage, trailer: 0, out var length);
        Advance(length);
        WriteBytes(data);
    }

    /// <summary>
    /// An XBZRLE page (ram.c <c>save_xbzrle_page</c>): be64 (offset | XBZRLE), the block, byte
    /// <see cref="Xbzrle.EncodingFlag"/>, be16 length, then <paramref name="delta"/> (see <see cref="Xbzrle.Encode"/>).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="delta"/> is empty or longer than a page.</exception>
    public void WriteXbzrlePage(int block, long offset, ReadOnlySpan<byte> delta)
    {
        if (delta.IsEmpty || delta.Length > Xbzrle.MaxLength)
        {
            throw new ArgumentException($"An XBZRLE delta has 1 to {Xbzrle.MaxLength} bytes, not {delta.Length}.", nameof(delta));
        }

        var span = WritePageHeader(block, offset, QemuFormat.RamFlagXbzrle, trailer: Xbzrle.HeaderLength, out var length);
        span[length] = Xbzrle.EncodingFlag;
        BinaryPrimitives.WriteUInt16BigEndian(span[(length + 1)..], (ushort)delta.Length);
        Advance(length + Xbzrle.HeaderLength);
        WriteBytes(delta);
    }

    /// <summary>Closes the RAM part or end opened by <see cref="BeginRamSection"/>: be64 EOS, then the footer.</summary>
    public void EndRamSection(uint sectionId)
    {
        if (_openRamSection is not { } open)
        {
            throw new InvalidOperationException("No RAM section part is open.");
        }

        if (open != sectionId)
        {
            throw new ArgumentException($"The open RAM section part is {open}, not {sectionId}.", nameof(sectionId));
        }

        WriteBe64(QemuFormat.RamFlagEos);
        WriteFooter(sectionId);
        _openRamSection = null;
        _lastBlock = -1;
    }

    /// <summary>
    /// VmConsole's device-state section (a peer of VmConsole only; QEMU would refuse it): a full section
    /// "vmconsole/state", instance 0, version 1, with a be32 payload length and the payload.
    /// </summary>
    public void WriteVmConsoleState(uint sectionId, ReadOnlySpan<byte> payload)
    {
        WriteSectionHeader(QemuFormat.SectionFull, sectionId, "vmconsole/state"u8, 0, QemuFormat.VmConsoleStateVersionId);
        var span = _output.GetSpan(4);
        BinaryPrimitives.WriteInt32BigEndian(span, payload.Length);
        Advance(4);
        WriteBytes(payload);
        WriteFooter(sectionId);
    }

    /// <summary>
    /// A device section sent whole (QEMU_VM_SECTION_FULL): its header (<paramref name="idStr"/>, instance and version
    /// ids), <paramref name="state"/> as it is, and the footer.
    /// </summary>
    /// <exception cref="ArgumentException">The idstr is empty or longer than 255 UTF-8 bytes.</exception>
    public void WriteDeviceSection(uint sectionId, string idStr, uint instanceId, uint versionId, ReadOnlySpan<byte> state)
    {
        ArgumentNullException.ThrowIfNull(idStr);
        var name = Encoding.UTF8.GetBytes(idStr);
        if (name.Length is 0 or > WireText.MaxIdStrLength)
        {
            throw new ArgumentException($"A section idstr needs 1 to 255 UTF-8 bytes, '{idStr}' has {name.Length}.", nameof(idStr));
        }

        WriteSectionHeader(QemuFormat.SectionFull, sectionId, name, instanceId, versionId);
        WriteBytes(state);
        WriteFooter(sectionId);
    }

    /// <summary>The EOF marker: byte 0x00.</summary>
    public void WriteEof()
    {
        _output.GetSpan(1)[0] = QemuFormat.Eof;
        Advance(1);
        _eofWritten = true;
    }

    /// <summary>The JSON description of device state that may follow EOF: byte 0x06, be32 length, UTF-8.</summary>
    public void WriteVmDescription(string json) => WriteTextSection(QemuFormat.VmDescription, json, nameof(json));

    /// <summary>A section that is a byte, a be32 length and that many bytes of UTF-8 (configuration, VM description).</summary>
    private void WriteTextSection(byte type, string text, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(text, parameterName);
        var length = WireText.StrictByteCount(text, parameterName);
        var span = _output.GetSpan(5);
        span[0] = type;
        BinaryPrimitives.WriteInt32BigEndian(span[1..], length);
        Advance(5);
        WriteText(text);
    }

    /// <summary>Sends what was written to the peer.</summary>
    /// <exception cref="IOException">The peer stopped reading before EOF ("migration stream closed by the peer").</exception>
    /// <remarks>
    /// If the peer's reader completed with an error, the pipe throws that error here. After <see cref="WriteEof"/> a peer
    /// that completed without an error is not one: a <see cref="MigrationStreamReader"/> completes its reader as soon as it
    /// has read the description, possibly before this flush returns.
    /// </remarks>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        var result = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCompleted && !_eofWritten)
        {
            throw new IOException("migration stream closed by the peer");
        }

        if (result.IsCanceled)
        {
            throw new OperationCanceledException("Flushing the migration stream was canceled.", cancellationToken);
        }
    }

    /// <summary>
    /// Checks a page record's block and offset and writes its address word and, unless CONTINUE, the block's idstr into
    /// a span with <paramref name="trailer"/> more bytes free; <paramref name="length"/> is what was written (not yet advanced).
    /// </summary>
    private Span<byte> WritePageHeader(int block, long offset, ulong flag, int trailer, out int length)
    {
        if (_openRamSection is null)
        {
            throw new InvalidOperationException("Page records go inside a RAM section part: call BeginRamSection first.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(block);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(block, _idStrs.Length);
        if (offset < 0 || offset >= _usedLengths[block] || offset % QemuFormat.TargetPageSize != 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(offset), offset, $"A page offset is a multiple of {QemuFormat.TargetPageSize} below the block's used_length {_usedLengths[block]}.");
        }

        var span = _output.GetSpan(MaxRecordHeaderLength + trailer);
        if (block == _lastBlock)
        {
            BinaryPrimitives.WriteUInt64BigEndian(span, (ulong)offset | flag | QemuFormat.RamFlagContinue);
            length = sizeof(ulong);
        }
        else
        {
            BinaryPrimitives.WriteUInt64BigEndian(span, (ulong)offset | flag);
            var idStr = _idStrs[block];
            span[sizeof(ulong)] = (byte)idStr.Length;
            idStr.CopyTo(span[(sizeof(ulong) + 1)..]);
            length = sizeof(ulong) + 1 + idStr.Length;
            _lastBlock = block;
        }

        return span;
    }

    private void WriteSectionHeader(byte type, uint sectionId, ReadOnlySpan<byte> idStr, uint instanceId, uint versionId)
    {
        var length = 1 + 4 + 1 + idStr.Length + 4 + 4;
        var span = _output.GetSpan(length);
        span[0] = type;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], sectionId);
        span[5] = (byte)idStr.Length;
        idStr.CopyTo(span[6..]);
        BinaryPrimitives.WriteUInt32BigEndian(span[(6 + idStr.Length)..], instanceId);
        BinaryPrimitives.WriteUInt32BigEndian(span[(10 + idStr.Length)..], versionId);
        Advance(length);
    }

    private void WriteFooter(uint sectionId)
    {
        var span = _output.GetSpan(5);
        span[0] = QemuFormat.SectionFooter;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], sectionId);
        Advance(5);
    }

    private void WriteBe64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_output.GetSpan(sizeof(ulong)), value);
        Advance(sizeof(ulong));
    }

    /// <summary>Copies into as many of the pipe's buffers as it takes, so a page fills the current segment first.</summary>
    private void WriteBytes(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var span = _output.GetSpan();
            var count = Math.Min(span.Length, data.Length);
            data[..count].CopyTo(span);
            Advance(count);
            data = data[count..];
        }
    }

    private void WriteText(string text)
    {
        var written = WireText.Strict.GetBytes(text.AsSpan(), _output);
        Volatile.Write(ref _bytesWritten, _bytesWritten + written);
    }

    private void Advance(int count)
    {
        _output.Advance(count);
        Volatile.Write(ref _bytesWritten, _bytesWritten + count);
    }
}
