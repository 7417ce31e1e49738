using System.Text;
using VmConsole.Emulation.Blocks;

namespace VmConsole.Emulation.Machines;

/// <summary>
/// Stand-in firmware contents: deterministic bytes per idstr, so ROMs are non-zero, the same on every
/// VM of a machine type, and a reload restores them exactly.
/// </summary>
internal static class FirmwareImage
{
    /// <summary>Writes <paramref name="block"/>'s image into <paramref name="memory"/>, by default the block's own bytes.</summary>
    public static void Load(RamBlock block, Memory.GuestMemory? memory = null)
    {
        var signature = Encoding.ASCII.GetBytes($"VmConsole firmware {block.IdStr}\0");
        var random = new Random(StableHash(block.IdStr));
        var page = new byte[block.PageSize];
        using var access = (memory ?? block.Memory).Acquire();
        for (long offset = 0; offset < block.UsedLength; offset += page.Length)
        {
            random.NextBytes(page);
            if (offset == 0)
            {
                signature.CopyTo(page, 0);
            }

            page.CopyTo(access.Span(offset, page.Length));
        }
    }

    private static int StableHash(string text)
    {
        var hash = unchecked((int)2166136261);
        foreach (var c in text)
        {
            hash = unchecked((hash ^ c) * 16777619);
        }

        return hash;
    }
}
