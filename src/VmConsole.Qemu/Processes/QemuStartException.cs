namespace VmConsole.Qemu.Processes;

/// <summary>QEMU did not start: its binary is missing, it refused the command line (its own words in the message), or it hung.</summary>
public sealed class QemuStartException(string message, Exception? inner = null) : Exception(message, inner);
