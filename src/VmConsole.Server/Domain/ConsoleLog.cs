namespace VmConsole.Server.Domain;

/// <summary>The console's log messages, source-generated.</summary>
internal static partial class ConsoleLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Seeded {HostCount} hosts and {VmCount} VMs")]
    public static partial void Seeded(ILogger logger, int hostCount, int vmCount);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Content root {ContentRoot}, web root {WebRoot}")]
    public static partial void Roots(ILogger logger, string contentRoot, string webRoot);
}
