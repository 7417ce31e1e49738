namespace VmConsole.Server.Hubs;

internal static partial class HubLog
{
    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "A hub message could not be sent")]
    public static partial void SendFailed(ILogger logger, Exception exception);
}
