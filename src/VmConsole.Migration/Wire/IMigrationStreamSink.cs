using System.Buffers;

namespace VmConsole.Migration.Wire;

/// <summary>
/// What a <see cref="MigrationStreamReader"/> finds, in stream order. A sink refuses what it cannot accept by
/// throwing <see cref="MigrationStreamException"/> (for example QEMU's
/// <c>Unknown ramblock "x", cannot accept migration</c>); the reader lets that exception through unchanged.
/// </summary>
public interface IMigrationStreamSink
{
    /// <summary>The configuration section's machine type (e.g. <c>microvm</c>, <c>pc-q35-7.2</c>).</summary>
    void OnConfiguration(string machineType);

    /// <summary>The RAM section's setup: every migratable block with its used_length, in stream order.</summary>
    void OnRamBlocks(IReadOnlyList<RamBlockHeader> blocks);

    /// <summary>A page whose every byte is <paramref name="fill"/> (RAM_SAVE_FLAG_ZERO). <paramref name="block"/> indexes the setup list.</summary>
    void OnZeroPage(int block, long offset, byte fill);

    /// <summary>A raw page of <see cref="QemuFormat.TargetPageSize"/> bytes (RAM_SAVE_FLAG_PAGE). The data is valid only during the call.</summary>
    void OnPage(int block, long offset, ReadOnlySequence<byte> data);

    /// <summary>
    /// Copies the page the destination holds at <paramref name="offset"/> of <paramref name="block"/> into
    /// <paramref name="page"/>: an XBZRLE record is a delta against it. A sink that keeps no pages refuses.
    /// </summary>
    void ReadPage(int block, long offset, Span<byte> page) =>
        throw new MigrationStreamException("Failed to load XBZRLE page - this destination keeps no pages to decode it against");

    /// <summary>A RAM section part or end has been read through its EOS and footer.</summary>
    void OnRamSectionDone(bool end);

    /// <summary>VmConsole's own device-state section; <paramref name="payload"/> is valid only during the call.</summary>
    void OnVmConsoleState(ReadOnlySequence<byte> payload);

    /// <summary>The EOF marker: the sender has sent everything it will send.</summary>
    void OnEof();

    /// <summary>The optional JSON description of device state that follows EOF.</summary>
    void OnVmDescription(string json);
}
