namespace VmConsole.Server.Events;

internal static partial class EventLog
{
    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, Message = "The event path is full ({Capacity} events waiting): the publisher waits for the reader")]
    public static partial void ChannelFull(ILogger logger, int capacity);

    [LoggerMessage(EventId = 31, Level = LogLevel.Debug, Message = "A {Event} came after the event path stopped and was not handed on")]
    public static partial void PublishedAfterStop(ILogger logger, string @event);

    [LoggerMessage(EventId = 32, Level = LogLevel.Error, Message = "{Sink} failed to take a {Event}")]
    public static partial void SinkFailed(ILogger logger, Exception exception, string sink, string @event);
}
