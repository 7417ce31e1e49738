using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Components.Shared;

/// <summary>The migrate dialog's multifd and XBZRLE fields: their rules, and what the dialog says about them.</summary>
public static partial class MigrationPrecheck
{
    /// <summary>The largest XBZRLE cache the dialog accepts, in MiB (QEMU's limit is the guest's RAM; 1 TiB is more than any here).</summary>
    public const long MaxXbzrleCacheMiB = 1_048_576;

    /// <summary>Why QEMU never combines the two, for the switch that is off while the other is on.</summary>
    public const string XbzrleWithMultifd =
        "QEMU never uses XBZRLE with multifd: multifd sends every page whole on its channels. Turn one off to use the other.";

    /// <summary>Why a multifd channel count is not one QEMU takes (1 to 255), or null when it is.</summary>
    public static string? CheckChannels(int? channels) => channels switch
    {
        null => "Enter a number of channels.",
        < 1 or > 255 => "Between 1 and 255.",
        _ => null,
    };

    /// <summary>
    /// Why an XBZRLE cache size in MiB is not one to migrate with, or null when it is: QEMU's xbzrle-cache-size is a power
    /// of two (it counts the cache in pages and rounds down), here in whole MiB.
    /// </summary>
    public static string? CheckXbzrleCacheMiB(long? mib) => mib switch
    {
        null => "Enter a cache size in MiB.",
        < 1 or > MaxXbzrleCacheMiB => "Between 1 MiB and 1 TiB (1,048,576 MiB), a power of two.",
        { } v when !long.IsPow2(v) => $"A power of two, such as {1L << (int)long.Log2(v):N0} or {2L << (int)long.Log2(v):N0} MiB.",
        _ => null,
    };

    /// <summary>
    /// What the estimate knows of XBZRLE: before a migration of the VM has run passes with it, nothing (it assumes whole
    /// pages); once one has measured QEMU's encoding-rate, the ratio it uses.
    /// </summary>
    public static string XbzrleEstimateNote(double? encodingRate) => encodingRate is > 0 and var rate
        ? $"XBZRLE: the estimate uses the encoding rate this VM's last XBZRLE migration measured ({rate:0.#} bytes of page per byte sent) for every pass after the first; "
            + "a guest that now dirties its pages differently encodes differently."
        : "XBZRLE: the estimate assumes whole pages until the first passes measure the encoding rate (the migration page shows it); "
            + "a guest that rewrites the same pages converges faster than this, one that dirties new pages does not.";

    /// <summary>
    /// The encoding rate (bytes of page per byte sent) the VM's newest completed migration with XBZRLE measured, or null
    /// when none did: the ratio the estimate can use before this migration's own passes measure theirs.
    /// </summary>
    public static async Task<double?> LastXbzrleEncodingRateAsync(MigrationHistory history, string vm)
    {
        ArgumentNullException.ThrowIfNull(history);
        var completed = await history.ListAsync(vm, MigrationStatus.Completed, CancellationToken.None);
        return completed.FirstOrDefault(m => m.Capabilities.Xbzrle && m.XbzrleCache is { EncodingRate: > 0 })?.XbzrleCache!.EncodingRate;
    }

    /// <summary>The default XBZRLE cache size in MiB (QEMU's 64 MiB).</summary>
    public static long DefaultXbzrleCacheMiB => MigrationParameters.Default.XbzrleCacheSize / Sizes.MiB;
}
