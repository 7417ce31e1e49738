namespace VmConsole.Server.Events;

/// <summary>A reader of the one event path (the hub sender, the recorder). Called for every event, in order, on one thread.</summary>
public interface IConsoleEventSink
{
    /// <summary>Takes the event; must not wait for anything slow (queue it instead). An exception is logged and the next event follows.</summary>
    void Handle(ConsoleEvent consoleEvent);
}
