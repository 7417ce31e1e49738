namespace VmConsole.Qemu.Qmp;

/// <summary>The monitor connection ended (QEMU exited or closed it) before a command was answered, or a command came after.</summary>
public sealed class QmpDisconnectedException(string message, Exception? inner = null) : IOException(message, inner);
