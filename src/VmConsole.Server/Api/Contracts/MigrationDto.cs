using VmConsole.Migration.Engine;

namespace VmConsole.Server.Api;

/// <param name="XbzrleCache">With the xbzrle capability, query-migrate's <c>xbzrle-cache</c>; null without it.</param>
public sealed record MigrationDto(
    string Id, string Vm, string SourceHost, string? DestinationHost, string? Uri, string Status,
    MigrationParameters Parameters, MigrationCapabilities Capabilities,
    long? SetupTime, long TotalTime, long? ExpectedDowntime, long? Downtime, MigrationRamDto Ram,
    int CpuThrottlePercentage, string? ErrorDesc, bool? Verified, IReadOnlyList<int> ThrottleSteps, IReadOnlyList<MigrationEventDto> Events,
    string Direction, XbzrleCacheDto? XbzrleCache = null);
