using System.Text.Json;

namespace VmConsole.Qemu.Qmp;

/// <summary>An asynchronous event QEMU sent (<c>{"event", "data", "timestamp"}</c>); <see cref="Data"/> is an empty object when it had none.</summary>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset Timestamp);
