namespace VmConsole.Server.Events;

/// <summary>
/// A line for the audit log. <paramref name="Committed"/>, when given, completes once the line is in the database
/// with every write that came before it on the event path.
/// </summary>
public sealed record ActionRecorded(AuditLine Line, TaskCompletionSource? Committed) : ConsoleEvent;
