using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Qemu.Migrations;

/// <summary>
/// The console's capabilities and parameters as QMP arguments (<c>migrate-set-capabilities</c>,
/// <c>migrate-set-parameters</c>), the names QEMU 7.2 gives them; every QEMU migration the console sets up uses these.
/// </summary>
internal static class QemuMigrationParameters
{
    /// <summary>QEMU's max-bandwidth when the console's is 0 (no limit): 1 TiB/s, more than any link here.</summary>
    public const long Unlimited = 1L << 40;

    /// <summary>The <c>migrate-set-capabilities</c> arguments, the same on both ends; <c>events</c> is always on (the console follows them).</summary>
    public static Dictionary<string, object> Capabilities(MigrationCapabilities capabilities)
    {
        ArgumentNullException.ThrowIfNull(capabilities);
        return new Dictionary<string, object>
        {
            ["capabilities"] = (capabilities with { Events = true }).ByQemuName().Select(c => Capability(c.Name, c.State)).ToArray(),
        };
    }

    /// <summary>The source's <c>migrate-set-parameters</c> arguments.</summary>
    public static Dictionary<string, object> Source(MigrationParameters p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new Dictionary<string, object>
        {
            ["max-bandwidth"] = p.MaxBandwidth == 0 ? Unlimited : p.MaxBandwidth,
            ["downtime-limit"] = p.DowntimeLimit,
            ["cpu-throttle-initial"] = p.CpuThrottleInitial,
            ["cpu-throttle-increment"] = p.CpuThrottleIncrement,
            ["max-cpu-throttle"] = p.MaxCpuThrottle,
            ["throttle-trigger-threshold"] = p.ThrottleTriggerThreshold,
            ["multifd-channels"] = p.MultifdChannels,
            ["xbzrle-cache-size"] = p.XbzrleCacheSize,
            ["multifd-compression"] = p.MultifdCompression.ToQemuName(),
            ["multifd-zlib-level"] = p.MultifdZlibLevel,
            ["multifd-zstd-level"] = p.MultifdZstdLevel,
        };
    }

    /// <summary>
    /// The destination's <c>migrate-set-parameters</c> arguments: with multifd it must expect as many channels as the
    /// source opens, and decompress what the source's <c>multifd-compression</c> compressed (the packets' flags are
    /// checked against it, never followed).
    /// </summary>
    public static Dictionary<string, object> Destination(MigrationParameters p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new Dictionary<string, object>
        {
            ["multifd-channels"] = p.MultifdChannels,
            ["multifd-compression"] = p.MultifdCompression.ToQemuName(),
        };
    }

    private static Dictionary<string, object> Capability(string name, bool state) => new() { ["capability"] = name, ["state"] = state };
}
