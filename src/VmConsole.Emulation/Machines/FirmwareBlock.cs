using VmConsole.Emulation.Blocks;

namespace VmConsole.Emulation.Machines;

/// <summary>A firmware or table block every VM of a machine type has (QEMU 7.2 sizes, DESIGN.md section 2).</summary>
/// <param name="GuestAddress">Where the guest sees it, as a function of the block size; null for fw_cfg-only blobs.</param>
public sealed record FirmwareBlock(string IdStr, long UsedLength, long MaxLength, RamBlockFlags Flags, Func<long, long>? GuestAddress);
