using System.Buffers;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Memory;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Engine;

/// <summary>
/// Puts a stream's pages into a VM's fresh blocks, as QEMU's ram_load does, for every incoming path (a VmConsole peer,
/// a QEMU file or live migration): zero pages touch memory only where it is not already zero (and not at all where it
/// was never backed), and a 2 MiB extent that arrives whole as page records is written by the
/// <see cref="ExtentWriter"/> threads, so that the kernel's work of backing its pages runs beside the reader.
/// </summary>
/// <remarks>Used by the one task reading the stream. Call <see cref="Flush"/> at the end of each RAM section.</remarks>
internal sealed class GuestPageLoader : IDisposable
{
    private const int PageSize = QemuFormat.TargetPageSize;

    private const int ExtentBytes = ExtentWriter.ExtentBytes;
    private const int ExtentPages = ExtentBytes / PageSize;

    private GuestMemoryAccess[] _memory;

    /// <summary>
    /// Per block, one bit per page never backed since before the stream began (empty where the kernel cannot tell). Only
    /// this loader writes the destination while it is in inmigrate, so clearing a bit on each write keeps it true.
    /// </summary>
    private readonly ulong[][] _untouched;

    // The extent being staged (see IsUntouchedExtent): its buffer (rented from _writer), block, offset, and how many
    // of its pages have come.
    private byte[] _staging = [];
    private int _stagedBlock;
    private long _stagedOffset;
    private int _stagedPages;
    private ExtentWriter? _writer;

    /// <param name="blocks">The stream's blocks, in its order (indexes are the reader's), each at the stream's length.</param>
    public GuestPageLoader(IReadOnlyList<RamBlock> blocks)
    {
        _memory = [.. blocks.Select(b => b.AcquireMemory())];
        _untouched = new ulong[blocks.Count][];
        for (var i = 0; i < blocks.Count; i++)
        {
            var pages = checked((int)(blocks[i].UsedLength / PageSize));
            var untouched = new ulong[(pages + 63) / 64];
            _untouched[i] = _memory[i].TryGetUntouched(0, pages, untouched) ? untouched : [];
        }
    }

    /// <summary>Every page handed over is in guest memory (the end of a RAM section, or of the stream).</summary>
    public void Flush()
    {
        FlushStaged();
        _writer?.Drain();
    }

    public void OnZeroPage(int block, long offset, byte fill)
    {
        FlushStaged();
        var untouched = _untouched[block];
        var index = offset / PageSize;
        var word = (int)(index >> 6);
        var mask = 1UL << (int)(index & 63);
        if (word < untouched.Length && (Volatile.Read(ref untouched[word]) & mask) != 0)
        {
            if (fill == 0)
            {
                return; // Never backed, so zero: leave it unbacked, without even reading it.
            }

            // Atomic: multifd channels clear bits of the same word from their own threads.
            Interlocked.And(ref untouched[word], ~mask);
        }

        _writer?.Drain(); // The page may be in an extent still on its way.
        var page = _memory[block].Span(offset, PageSize);
        if (fill != 0 || page.ContainsAnyExcept((byte)0))
        {
            page.Fill(fill);
        }
    }

    /// <summary>The page as loaded so far (the base of an XBZRLE delta): every page handed over before it is in memory first.</summary>
    public void ReadPage(int block, long offset, Span<byte> page)
    {
        FlushStaged();
        _writer?.Drain();
        _memory[block].Span(offset, PageSize).CopyTo(page);
    }

    public void OnPage(int block, long offset, ReadOnlySequence<byte> data)
    {
        if (_stagedPages > 0)
        {
            if (block == _stagedBlock && offset == _stagedOffset + ((long)_stagedPages * PageSize))
            {
                data.CopyTo(_staging.AsSpan(_stagedPages * PageSize, PageSize));
                if (++_stagedPages == ExtentPages)
                {
                    CommitExtent();
                }

                return;
            }

            FlushStaged();
        }

        if (offset % ExtentBytes == 0 && IsUntouchedExtent(block, offset))
        {
            _writer ??= new ExtentWriter();
            _staging = _writer.Rent();
            data.CopyTo(_staging.AsSpan(0, PageSize));
            _stagedBlock = block;
            _stagedOffset = offset;
            _stagedPages = 1;
            return;
        }

        MarkWritten(block, offset / PageSize, 1);
        _writer?.Drain(); // The page may be in an extent still on its way.
        data.CopyTo(_memory[block].Span(offset, PageSize));
    }

    /// <summary>
    /// An untouched extent that starts with a page record goes to a staging buffer while the records that follow fill
    /// it page after page: received whole, it goes to the writer threads (every page of it is non-zero, so backing it all
    /// spends nothing on zeros); otherwise its pages land from the receiver, as they came.
    /// </summary>
    /// <summary>
    /// A page a multifd channel fills now, from its own thread (QEMU's channels write guest memory directly): marked
    /// written, so that a later zero page for it is not taken for a never-backed one. Safe alongside the main stream's
    /// zero pages, which never name a page a channel is writing (the SYNC at each EOS orders them).
    /// </summary>
    public Span<byte> MultifdPage(int block, long offset)
    {
        MarkWritten(block, offset / PageSize, 1);
        return _memory[block].Span(offset, PageSize);
    }

    private bool IsUntouchedExtent(int block, long offset)
    {
        var untouched = _untouched[block];
        var firstWord = (int)(offset / PageSize / 64);
        if (firstWord + (ExtentPages / 64) > untouched.Length)
        {
            return false;
        }

        return !untouched.AsSpan(firstWord, ExtentPages / 64).ContainsAnyExcept(ulong.MaxValue);
    }

    /// <summary>The staged extent is whole: a writer thread puts it into memory.</summary>
    private void CommitExtent()
    {
        MarkWritten(_stagedBlock, _stagedOffset / PageSize, ExtentPages);
        _writer!.Write(_memory[_stagedBlock], _stagedOffset, _staging);
        _staging = [];
        _stagedPages = 0;
    }

    /// <summary>Writes the pages of an extent that did not come whole where they belong, before any other record (the stream's order holds).</summary>
    private void FlushStaged()
    {
        if (_stagedPages == 0)
        {
            return;
        }

        var length = _stagedPages * PageSize;
        MarkWritten(_stagedBlock, _stagedOffset / PageSize, _stagedPages);
        _staging.AsSpan(0, length).CopyTo(_memory[_stagedBlock].Span(_stagedOffset, length));
        _writer!.Return(_staging);
        _staging = [];
        _stagedPages = 0;
    }

    private void MarkWritten(int block, long firstPage, int count)
    {
        var untouched = _untouched[block];
        for (var page = firstPage; page < firstPage + count && (page >> 6) < untouched.Length; page++)
        {
            // Atomic: multifd channels clear bits of the same word from their own threads.
            Interlocked.And(ref untouched[page >> 6], ~(1UL << (int)(page & 63)));
        }
    }

    public void Dispose()
    {
        // The writer threads use the memory accesses below: they finish first.
        _writer?.Dispose();
        _writer = null;
        foreach (var access in _memory)
        {
            access.Dispose();
        }

        _memory = [];
    }
}
