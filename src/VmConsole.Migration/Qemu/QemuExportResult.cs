using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>What an export wrote.</summary>
public sealed record QemuExportResult(string MachineType, IReadOnlyList<RamBlockHeader> Blocks, long BytesWritten, long NormalPages, long ZeroPages);
