using VmConsole.Emulation.Blocks;

namespace VmConsole.Emulation.Vms;

/// <summary>A guest-physical region and the block bytes behind it.</summary>
public readonly record struct GuestMapping(long Start, long Length, RamBlock Block, long BlockOffset);
