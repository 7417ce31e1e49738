using System.Globalization;
using System.Text.Json;

namespace VmConsole.Qemu.Memory;

/// <summary>
/// Reads QEMU 7.2's RAM block table: the text of <c>x-query-ramblock</c> (columns Block Name, PSize, Offset, Used,
/// Total; sizes in hex; an unplugged backend's name empty), joined with <c>query-memdev</c> and
/// <c>query-memory-devices</c> so that each block says which backend and device it belongs to.
/// </summary>
public static class QemuRamBlockTable
{
    /// <summary>Parses <c>x-query-ramblock</c>'s <c>human-readable-text</c>.</summary>
    /// <exception cref="FormatException">A line that is not a row of that table.</exception>
    public static IReadOnlyList<QemuRamBlock> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var blocks = new List<QemuRamBlock>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || (fields[0] == "Block" && fields.Length > 1 && fields[1] == "Name"))
            {
                continue;
            }

            // Name (absent for an unplugged backend), PSize as two words ("4 KiB"), then three hex numbers.
            var named = fields.Length switch
            {
                6 => true,
                5 => false,
                _ => throw new FormatException($"Not a row of x-query-ramblock's table: '{line.Trim()}'."),
            };
            var at = named ? 1 : 0;
            blocks.Add(new QemuRamBlock(
                named ? fields[0] : "",
                PageSize(fields[at], fields[at + 1], line),
                Hex(fields[at + 2], line),
                Hex(fields[at + 3], line),
                Hex(fields[at + 4], line)));
        }

        return blocks;
    }

    /// <summary>
    /// Joins <paramref name="blocks"/> with <c>query-memdev</c>'s backends and <c>query-memory-devices</c>'s devices: a
    /// block named like a backend is that backend's (and so the device's that plugs it); an unnamed block is the unused
    /// backend of its size when exactly one has it.
    /// </summary>
    public static IReadOnlyList<QemuRamBlock> Join(IReadOnlyList<QemuRamBlock> blocks, JsonElement memdevs, JsonElement memoryDevices)
    {
        var backends = memdevs.EnumerateArray()
            .Select(m => (Id: m.GetProperty("id").GetString() ?? "", Size: m.GetProperty("size").GetInt64()))
            .ToList();
        var deviceOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var device in memoryDevices.EnumerateArray())
        {
            if (device.TryGetProperty("data", out var data) && data.TryGetProperty("memdev", out var memdev) && data.TryGetProperty("id", out var id))
            {
                // memdev is the backend's QOM path: /objects/ID.
                var path = memdev.GetString() ?? "";
                deviceOf[path[(path.LastIndexOf('/') + 1)..]] = id.GetString() ?? "";
            }
        }

        var named = blocks.Where(b => b.Migratable).Select(b => b.IdStr).ToHashSet(StringComparer.Ordinal);
        var unused = backends.Where(b => !named.Contains(b.Id) && !deviceOf.ContainsKey(b.Id)).ToList();
        return [.. blocks.Select(block =>
        {
            if (block.Migratable)
            {
                return backends.Any(b => b.Id == block.IdStr)
                    ? block with { BackendId = block.IdStr, DeviceId = deviceOf.GetValueOrDefault(block.IdStr) }
                    : block;
            }

            var candidates = unused.Where(b => b.Size == block.MaxLength).ToList();
            return candidates.Count == 1 ? block with { BackendId = candidates[0].Id } : block;
        })];
    }

    private static long Hex(string field, string line) =>
        field.StartsWith("0x", StringComparison.Ordinal) && long.TryParse(field.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"'{field}' is not a hex size in x-query-ramblock's row '{line.Trim()}'.");

    private static long PageSize(string number, string unit, string line)
    {
        if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw new FormatException($"'{number} {unit}' is not a page size in x-query-ramblock's row '{line.Trim()}'.");
        }

        return unit switch
        {
            "B" => value,
            "KiB" => value << 10,
            "MiB" => value << 20,
            "GiB" => value << 30,
            _ => throw new FormatException($"'{number} {unit}' is not a page size in x-query-ramblock's row '{line.Trim()}'."),
        };
    }
}
