namespace VmConsole.Migration.Wire;

/// <summary>
/// A stream that cannot be loaded: bad magic or version, truncated, unknown flags, a block the destination
/// does not have... The message uses QEMU's words where QEMU has them; it becomes the migration's errorDesc.
/// </summary>
public class MigrationStreamException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The stream ended before the unit being read was complete: the sender stopped (or the channel was cut), as opposed to
/// a stream that says something wrong. A receiver whose sender stopped on its own error reports this one only as a symptom.
/// </summary>
public sealed class TruncatedStreamException(string message, Exception? inner = null) : MigrationStreamException(message, inner);
