using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Server.Api;

/// <summary>
/// The <c>parameters</c> and <c>capabilities</c> objects of a request as the engine's types: one reading for
/// <c>POST /api/migrations</c> and <c>POST /api/vms/incoming</c>, each value left out keeping QEMU's default.
/// </summary>
internal static class MigrationRequestMapping
{
    /// <summary>The parameters; a word QEMU does not know for <c>multifdCompression</c> is recorded in <paramref name="errors"/>.</summary>
    public static MigrationParameters ToParameters(this MigrationParametersRequest? p, RequestErrors errors)
    {
        var defaults = MigrationParameters.Default;
        var compression = defaults.MultifdCompression;
        if (p?.MultifdCompression is { } name && !MultifdCompressionNames.TryParse(name, out compression))
        {
            errors.Add("parameters.multifdCompression", $"'{VmConsole.Emulation.Names.Shorten(name)}' is not a multifd compression: none, zlib or zstd.");
        }

        return new MigrationParameters
        {
            MaxBandwidth = p?.MaxBandwidth ?? defaults.MaxBandwidth,
            DowntimeLimit = p?.DowntimeLimit ?? defaults.DowntimeLimit,
            CpuThrottleInitial = p?.CpuThrottleInitial ?? defaults.CpuThrottleInitial,
            CpuThrottleIncrement = p?.CpuThrottleIncrement ?? defaults.CpuThrottleIncrement,
            MaxCpuThrottle = p?.MaxCpuThrottle ?? defaults.MaxCpuThrottle,
            ThrottleTriggerThreshold = p?.ThrottleTriggerThreshold ?? defaults.ThrottleTriggerThreshold,
            MultifdChannels = p?.MultifdChannels ?? defaults.MultifdChannels,
            XbzrleCacheSize = p?.XbzrleCacheSize ?? defaults.XbzrleCacheSize,
            MultifdCompression = compression,
            MultifdZlibLevel = p?.MultifdZlibLevel ?? defaults.MultifdZlibLevel,
            MultifdZstdLevel = p?.MultifdZstdLevel ?? defaults.MultifdZstdLevel,
        };
    }

    public static MigrationCapabilities ToCapabilities(this MigrationCapabilitiesRequest? c)
    {
        var defaults = MigrationCapabilities.Default;
        return new MigrationCapabilities
        {
            AutoConverge = c?.AutoConverge ?? defaults.AutoConverge,
            PostcopyRam = c?.PostcopyRam ?? defaults.PostcopyRam,
            PauseBeforeSwitchover = c?.PauseBeforeSwitchover ?? defaults.PauseBeforeSwitchover,
            Multifd = c?.Multifd ?? defaults.Multifd,
            Xbzrle = c?.Xbzrle ?? defaults.Xbzrle,
            Events = c?.Events ?? defaults.Events,
        };
    }

    /// <summary>
    /// What a destination is told before its source connects: postcopy-ram and x-ignore-shared as before, multifd with
    /// the channel count and compression of <paramref name="parameters"/> (the same on both ends). The parameters are
    /// checked against QEMU's ranges, and xbzrle with multifd is refused as for a migration this console starts.
    /// </summary>
    public static IncomingCapabilities ToIncoming(this IncomingCapabilitiesRequest? c, MigrationParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        var multifd = c?.Multifd ?? false;
        (MigrationCapabilities.Default with { Multifd = multifd, Xbzrle = c?.Xbzrle ?? false }).Validate();
        return new IncomingCapabilities(
            c?.PostcopyRam ?? false, c?.XIgnoreShared ?? false, multifd, parameters.MultifdChannels, parameters.MultifdCompression);
    }
}
