using VmConsole.Emulation;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Machines;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// The RAM layout a QEMU 7.2 stream's block list describes, as the command line that made it would: the machine's
/// firmware blocks (checked against the machine), and the RAM blocks, read as QEMU names them (DESIGN.md section 11).
/// </summary>
/// <remarks>
/// The block list carries only idstrs and lengths. The RAM blocks are read this way: with the machine's own main RAM
/// block (pc.ram, microvm.ram), that is main RAM and every other RAM block is a pc-dimm's backend (hotplug machines
/// only); without it, a single RAM block is main RAM under <c>-machine memory-backend=ID</c>, and several are NUMA
/// memdevs in the stream's order (QEMU lists blocks from the largest to the smallest, equal sizes in the order they
/// were made). A QEMU started either way accepts the VM's stream back: it matches blocks by idstr and length.
/// </remarks>
/// <param name="Main">The main RAM: the machine's block, the memory-backend, or the NUMA memdevs in order.</param>
/// <param name="Dimms">Backends plugged as pc-dimms, in stream order.</param>
/// <param name="Numa">Whether <paramref name="Main"/> is NUMA nodes.</param>
internal sealed record QemuStreamLayout(IReadOnlyList<RamBlockHeader> Main, IReadOnlyList<RamBlockHeader> Dimms, bool Numa)
{
    /// <summary>Reads <paramref name="blocks"/> for <paramref name="machine"/>.</summary>
    /// <exception cref="MigrationStreamException">A block QEMU started for this machine could not have (QEMU's words), or no RAM.</exception>
    public static QemuStreamLayout Read(MachinePreset machine, IReadOnlyList<RamBlockHeader> blocks)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(blocks);
        var ram = new List<RamBlockHeader>();
        foreach (var block in blocks)
        {
            if (machine.Firmware.FirstOrDefault(f => f.IdStr == block.IdStr) is { } firmware)
            {
                CheckLength(block, firmware.UsedLength, firmware.MaxLength, firmware.Flags.HasFlag(RamBlockFlags.Resizeable));
            }
            else if (block.IdStr == machine.MainRamIdStr || Names.IsValidQemuId(block.IdStr))
            {
                ram.Add(block);
            }
            else
            {
                throw Unknown(block);
            }
        }

        if (ram.Count == 0)
        {
            throw new MigrationStreamException($"The stream has no RAM block besides the {machine.Name} firmware: neither '{machine.MainRamIdStr}' nor a memory backend's");
        }

        var main = ram.FindIndex(b => b.IdStr == machine.MainRamIdStr);
        if (main < 0)
        {
            return new QemuStreamLayout(ram, [], Numa: ram.Count > 1);
        }

        var dimms = ram.Where((_, i) => i != main).ToList();
        if (dimms.Count > 0 && !machine.SupportsMemoryHotplug)
        {
            throw Unknown(dimms[0]);
        }

        return new QemuStreamLayout([ram[main]], dimms, Numa: false);
    }

    /// <summary>The definition of a VM with this layout (its main RAM, NUMA nodes, slots and maxmem for the dimms).</summary>
    public VmDefinition ToDefinition(MachinePreset machine, string name, string host, Guid id)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var memory = Main.Sum(b => b.UsedLength);
        return new VmDefinition(name, host, machine.Name, memory)
        {
            Id = id,
            MainRamBackend = !Numa && Main[0].IdStr != machine.MainRamIdStr ? Main[0].IdStr : null,
            NumaNodes = Numa ? [.. Main.Select(b => new NumaNode(b.IdStr, b.UsedLength))] : [],
            Slots = Dimms.Count,
            MaxMemBytes = Dimms.Count == 0 ? 0 : memory + Dimms.Sum(d => d.UsedLength),
        };
    }

    public static MigrationStreamException Unknown(RamBlockHeader block) =>
        new($"Unknown ramblock \"{block.IdStr}\", cannot accept migration");

    /// <summary>QEMU's ram_load checks for a block of the destination's machine.</summary>
    private static void CheckLength(RamBlockHeader block, long usedLength, long maxLength, bool resizeable)
    {
        if (block.UsedLength == usedLength)
        {
            return;
        }

        if (!resizeable)
        {
            throw new MigrationStreamException($"Size mismatch: {block.IdStr}: 0x{block.UsedLength:x} != 0x{usedLength:x}: Invalid argument");
        }

        if (block.UsedLength > maxLength)
        {
            throw new MigrationStreamException($"Size too large: {block.IdStr}: 0x{block.UsedLength:x} > 0x{maxLength:x}: Invalid argument");
        }
    }
}
