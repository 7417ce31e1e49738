using System.Collections.Immutable;
using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Machines;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Vms;

/// <summary>
/// A VM's guest-physical address map: which block bytes back each guest address (RAM, DIMMs, firmware ROMs), and
/// the guest's reads and writes through it.
/// </summary>
/// <remarks>
/// <see cref="Rebuild"/> runs under the VM's gate; the map is a single-reference struct, read without the gate.
/// Each chunk of a read or write looks the map up again, so a region unplugged mid-access is seen at once.
/// </remarks>
internal sealed class GuestAddressMap(Func<long, DomainException> unmapped)
{
    private ImmutableArray<GuestMapping> _mappings = [];

    /// <summary>The guest-physical regions: RAM, DIMMs and firmware ROMs (ROMs shadow RAM where they overlap).</summary>
    public ImmutableArray<GuestMapping> Mappings => _mappings;

    /// <summary>
    /// Lays the map out again from the blocks: ROMs first, then main RAM (its blocks end to end, as QEMU lays NUMA
    /// memdevs, split around the 4 GiB hole), then other guest-visible RAM.
    /// </summary>
    public void Rebuild(MachinePreset machine, long memoryBytes, IReadOnlyList<RamBlock> mainRam, IReadOnlyCollection<RamBlock> blocks)
    {
        var mappings = ImmutableArray.CreateBuilder<GuestMapping>();
        foreach (var block in blocks.Where(b => b.ReadOnly && b.GuestAddress is not null))
        {
            mappings.Add(new GuestMapping(block.GuestAddress!.Value, block.UsedLength, block, 0));
        }

        var below = machine.BelowFourGiB(memoryBytes);
        MapRam(mappings, mainRam, 0, 0, below);
        if (memoryBytes > below)
        {
            MapRam(mappings, mainRam, below, 4 * GiB, memoryBytes - below);
        }

        foreach (var block in blocks.Where(b => !b.ReadOnly && !mainRam.Contains(b) && b.GuestAddress is not null))
        {
            mappings.Add(new GuestMapping(block.GuestAddress!.Value, block.UsedLength, block, 0));
        }

        _mappings = mappings.ToImmutable();
    }

    /// <summary>Maps <paramref name="length"/> bytes of main RAM from RAM offset <paramref name="from"/> at guest address <paramref name="start"/>, one mapping per block it crosses.</summary>
    private static void MapRam(ImmutableArray<GuestMapping>.Builder mappings, IReadOnlyList<RamBlock> mainRam, long from, long start, long length)
    {
        var blockStart = 0L;
        foreach (var block in mainRam)
        {
            var blockEnd = blockStart + block.UsedLength;
            var begin = Math.Max(from, blockStart);
            var end = Math.Min(from + length, blockEnd);
            if (begin < end)
            {
                mappings.Add(new GuestMapping(start + (begin - from), end - begin, block, begin - blockStart));
            }

            blockStart = blockEnd;
        }
    }

    /// <summary>Writes at guest-physical addresses, as the guest (or qtest's write) does. Writes to ROM are discarded, as on hardware.</summary>
    public void Write(long address, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            var (mapping, offset, length) = Translate(address, source.Length);
            if (!mapping.Block.ReadOnly)
            {
                try
                {
                    mapping.Block.Write(offset, source[..length]);
                }
                catch (ObjectDisposedException)
                {
                    throw unmapped(address);
                }
            }

            address += length;
            source = source[length..];
        }
    }

    public void Read(long address, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var (mapping, offset, length) = Translate(address, destination.Length);
            try
            {
                mapping.Block.Read(offset, destination[..length]);
            }
            catch (ObjectDisposedException)
            {
                // The region was unplugged and its block freed after the mappings were read.
                throw unmapped(address);
            }

            address += length;
            destination = destination[length..];
        }
    }

    private (GuestMapping Mapping, long Offset, int Length) Translate(long address, int length)
    {
        var mappings = Mappings;
        foreach (var mapping in mappings)
        {
            if (address >= mapping.Start && address - mapping.Start < mapping.Length)
            {
                var within = address - mapping.Start;
                var chunk = Math.Min(length, mapping.Length - within);

                // Stop where another region begins: a ROM that shadows this RAM further on owns its own bytes.
                foreach (var other in mappings)
                {
                    if (other.Start > address && other.Start - address < chunk)
                    {
                        chunk = other.Start - address;
                    }
                }

                return (mapping, mapping.BlockOffset + within, (int)chunk);
            }
        }

        throw unmapped(address);
    }
}
