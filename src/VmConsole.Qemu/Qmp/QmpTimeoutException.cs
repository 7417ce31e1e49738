namespace VmConsole.Qemu.Qmp;

/// <summary>QEMU did not answer a command (or greet) within its time. The connection stays usable: a late answer is dropped.</summary>
public sealed class QmpTimeoutException(string command, TimeSpan timeout, string? message = null)
    : TimeoutException(message ?? $"QEMU did not answer '{command}' within {timeout.TotalSeconds:0.#} s.")
{
    public string Command { get; } = command;

    public TimeSpan Timeout { get; } = timeout;
}
