namespace VmConsole.Server.Events;

/// <summary>Something that happened in the console, as the one event path carries it to the hub and the recorder.</summary>
public abstract record ConsoleEvent;
