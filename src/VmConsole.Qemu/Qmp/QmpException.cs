namespace VmConsole.Qemu.Qmp;

/// <summary>QEMU answered a command with an error (<c>{"error": {"class", "desc"}}</c>).</summary>
public sealed class QmpException(string command, string errorClass, string description)
    : Exception($"QEMU refused '{command}': {description} ({errorClass}).")
{
    public string Command { get; } = command;

    /// <summary>QEMU's error class: <c>GenericError</c>, <c>CommandNotFound</c>, <c>DeviceNotFound</c>...</summary>
    public string ErrorClass { get; } = errorClass;

    /// <summary>QEMU's own words.</summary>
    public string Description { get; } = description;
}
