namespace VmConsole.Migration.Wire;

/// <summary>
/// The stream ended before the unit being read was complete: the sender stopped (or the channel was cut), as opposed to
/// a stream that says something wrong. A receiver whose sender stopped on its own error reports this one only as a symptom.
/// </summary>
public sealed class TruncatedStreamException(string message, Exception? inner = null) : MigrationStreamException(message, inner);
