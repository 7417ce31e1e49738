using System.IO.Pipelines;
using VmConsole.Emulation.Memory;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// A whole stream with one RAM pass over a block, written the way PrecopySender writes it with no max-bandwidth: header,
/// configuration, RAM setup, one RAM part with every page (zero pages as one-byte records, after the same
/// <c>ContainsAnyExcept</c> check), a flush whenever 256 KiB have gathered (checked per 64-page bitmap word), EOF.
/// Left out: PrecopySender's per-page counters and the progress it publishes at each flush (they live on Migration).
/// </summary>
internal static class RamPass
{
    private const int FlushEvery = 256 << 10;
    private const int PagesPerWord = 64;

    public static async Task WriteAsync(PipeWriter output, string machine, RamBlockHeader block, GuestMemory memory, CancellationToken cancellationToken)
    {
        var writer = new MigrationStreamWriter(output);
        writer.WriteHeader();
        writer.WriteConfiguration(machine);
        writer.WriteRamSetup(PrecopySender.RamSectionId, [block]);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);

        writer.BeginRamSection(PrecopySender.RamSectionId, end: false);
        var pages = block.UsedLength / MicroSizes.PageSize;
        var flushedAt = writer.BytesWritten;
        using (var access = memory.Acquire())
        {
            for (long first = 0; first < pages; first += PagesPerWord)
            {
                SendWord(writer, access, first, (int)Math.Min(PagesPerWord, pages - first));
                if (writer.BytesWritten - flushedAt >= FlushEvery)
                {
                    await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                    flushedAt = writer.BytesWritten;
                }
            }
        }

        writer.EndRamSection(PrecopySender.RamSectionId);
        writer.WriteEof();
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        await output.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>PrecopySender.SendWord for a word whose bits are all set.</summary>
    private static void SendWord(MigrationStreamWriter writer, GuestMemoryAccess memory, long firstPage, int count)
    {
        for (var page = firstPage; page < firstPage + count; page++)
        {
            var offset = page * MicroSizes.PageSize;
            var data = memory.Span(offset, MicroSizes.PageSize);
            if (!data.ContainsAnyExcept((byte)0))
            {
                writer.WriteZeroPage(0, offset, 0);
            }
            else
            {
                writer.WritePage(0, offset, data);
            }
        }
    }
}
