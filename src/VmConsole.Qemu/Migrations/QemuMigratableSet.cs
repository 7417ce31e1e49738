using System.Globalization;
using VmConsole.Qemu.Memory;

namespace VmConsole.Qemu.Migrations;

/// <summary>
/// A QEMU VM's migratable set as DESIGN.md section 3 identifies it: per migratable block (one with an idstr), its idstr,
/// page size and used length. A QEMU-to-QEMU migration takes it from the source with the freeze lease and compares the
/// destination's with it once the migration has completed.
/// </summary>
internal static class QemuMigratableSet
{
    /// <summary>What differs between two RAM block tables' migratable sets, in words; null when they are the same.</summary>
    public static string? Compare(IReadOnlyList<QemuRamBlock> source, IReadOnlyList<QemuRamBlock> destination)
    {
        var before = ByIdStr(source);
        var after = ByIdStr(destination);
        var differences = new List<string>();
        foreach (var (idstr, block) in before)
        {
            if (!after.TryGetValue(idstr, out var other))
            {
                differences.Add($"'{idstr}' ({Hex(block.UsedLength)} used) only on the source");
            }
            else if (other.UsedLength != block.UsedLength || other.PageSize != block.PageSize)
            {
                differences.Add($"'{idstr}' {Hex(block.UsedLength)} used in {Hex(block.PageSize)} pages on the source, {Hex(other.UsedLength)} in {Hex(other.PageSize)} pages on the destination");
            }
        }

        differences.AddRange(after.Where(a => !before.ContainsKey(a.Key)).Select(a => $"'{a.Key}' ({Hex(a.Value.UsedLength)} used) only on the destination"));
        return differences.Count == 0 ? null : string.Join("; ", differences);
    }

    private static SortedDictionary<string, QemuRamBlock> ByIdStr(IReadOnlyList<QemuRamBlock> blocks)
    {
        // QEMU keeps idstrs unique; should a table say otherwise, its first row of a name stands for it.
        var set = new SortedDictionary<string, QemuRamBlock>(StringComparer.Ordinal);
        foreach (var block in blocks.Where(b => b.Migratable))
        {
            set.TryAdd(block.IdStr, block);
        }

        return set;
    }

    private static string Hex(long value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
