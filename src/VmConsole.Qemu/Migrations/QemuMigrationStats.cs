using System.Text.Json;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;

namespace VmConsole.Qemu.Migrations;

/// <summary>A source's <c>query-migrate</c> answer as the console's statistics (the names are QEMU's already).</summary>
internal static class QemuMigrationStats
{
    public static MigrationStatus Status(JsonElement info) =>
        info.TryGetProperty("status", out var s) && MigrationStatusNames.TryParse(s.GetString(), out var status) ? status
        : info.TryGetProperty("status", out _) ? MigrationStatus.Active
        : MigrationStatus.None;

    public static MigrationStats From(JsonElement info)
    {
        var ram = info.TryGetProperty("ram", out var r) ? r : default;
        return new MigrationStats
        {
            Status = Status(info),
            TotalTime = Long(info, "total-time") ?? 0,
            SetupTime = Long(info, "setup-time"),
            ExpectedDowntime = Long(info, "expected-downtime"),
            Downtime = Long(info, "downtime"),
            Transferred = Long(ram, "transferred") ?? 0,
            Remaining = Long(ram, "remaining") ?? 0,
            Total = Long(ram, "total") ?? 0,
            Duplicate = Long(ram, "duplicate") ?? 0,
            Normal = Long(ram, "normal") ?? 0,
            NormalBytes = Long(ram, "normal-bytes") ?? 0,
            DirtyPagesRate = Double(ram, "dirty-pages-rate"),
            Mbps = Double(ram, "mbps"),
            DirtySyncCount = Long(ram, "dirty-sync-count") ?? 0,
            PageSize = Long(ram, "page-size") ?? 4096,
            PagesPerSecond = Double(ram, "pages-per-second"),
            PrecopyBytes = Long(ram, "precopy-bytes") ?? 0,
            DowntimeBytes = Long(ram, "downtime-bytes") ?? 0,
            CpuThrottlePercentage = (int)(Long(info, "cpu-throttle-percentage") ?? 0),
            ErrorDesc = info.TryGetProperty("error-desc", out var e) ? e.GetString() : null,
            XbzrleCache = Xbzrle(info),
        };
    }

    /// <summary>query-migrate's <c>xbzrle-cache</c>: there only with the xbzrle capability.</summary>
    private static XbzrleCacheStats? Xbzrle(JsonElement info) =>
        info.TryGetProperty("xbzrle-cache", out var x) && x.ValueKind == JsonValueKind.Object
            ? new XbzrleCacheStats(
                Long(x, "cache-size") ?? 0, Long(x, "bytes") ?? 0, Long(x, "pages") ?? 0, Long(x, "cache-miss") ?? 0,
                Double(x, "cache-miss-rate"), Double(x, "encoding-rate"), Long(x, "overflow") ?? 0)
            : null;

    private static long? Long(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;

    private static double Double(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;
}
