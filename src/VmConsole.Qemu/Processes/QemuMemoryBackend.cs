namespace VmConsole.Qemu.Processes;

/// <summary>A <c>memory-backend-ram</c> object of a QEMU VM, and the pc-dimm that plugs it (null: none, its block is not migratable).</summary>
public sealed record QemuMemoryBackend(string Id, long SizeBytes, string? DimmId = null);
