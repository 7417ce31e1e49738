namespace VmConsole.Migration.Wire;

/// <summary>
/// A stream that cannot be loaded: bad magic or version, truncated, unknown flags, a block the destination
/// does not have... The message uses QEMU's words where QEMU has them; it becomes the migration's errorDesc.
/// </summary>
public class MigrationStreamException(string message, Exception? inner = null) : Exception(message, inner);
