using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VmConsole.Emulation.Blocks;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

public sealed class RamAddressAllocatorTests
{
    private const long Alignment = 256 * KiB;

    /// <summary>Block sizes in whole 4 KiB pages: many small, some around the alignment, some large.</summary>
    private static readonly Gen<long> SizeGen =
        Gen.OneOf(
            Gen.Choose(1, 64).Select(pages => pages * 4096L),
            Gen.Choose(60, 70).Select(pages => pages * 4096L),
            Gen.Choose(1, 4096).Select(pages => pages * 4096L));

    private static readonly Arbitrary<long[]> SizeSequences =
        Gen.Choose(1, 25).SelectMany(count => Gen.ArrayOf(SizeGen, count)).ToArbitrary();

    /// <summary>Sizes to place, which of them to remove afterwards, and the size of one more block.</summary>
    private static readonly Arbitrary<(long[] Sizes, bool[] Remove, long Next)> PlaceRemovePlace =
        (from sizes in Gen.Choose(2, 25).SelectMany(count => Gen.ArrayOf(SizeGen, count))
         from remove in Gen.ArrayOf(Gen.Elements(false, true), sizes.Length)
         from next in SizeGen
         select (sizes, remove, next)).ToArbitrary();

    private static List<(long Offset, long Length)> PlaceAll(IEnumerable<long> sizes)
    {
        var placed = new List<(long Offset, long Length)>();
        foreach (var size in sizes)
        {
            placed.Add((RamAddressAllocator.FindOffset(placed, size), size));
        }

        return placed;
    }

    private static bool Overlap((long Offset, long Length) a, (long Offset, long Length) b) =>
        a.Offset < b.Offset + b.Length && b.Offset < a.Offset + a.Length;

    [Fact]
    public void Alignment_Constant_Is256KiB() => Assert.Equal(Alignment, RamAddressAllocator.Alignment);

    [Fact]
    public void FindOffset_NothingPlaced_Zero() => Assert.Equal(0, RamAddressAllocator.FindOffset([], 4096));

    [Theory]
    [InlineData(0)]
    [InlineData(-4096)]
    public void FindOffset_SizeNotPositive_Throws(long size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RamAddressAllocator.FindOffset([], size));

    [Fact]
    public void FindOffset_AfterOneBlock_EndRoundedUpToAlignment()
    {
        Assert.Equal(Alignment, RamAddressAllocator.FindOffset([(0, 4096)], 4096));
        Assert.Equal(Alignment, RamAddressAllocator.FindOffset([(0, Alignment)], 4096));
        Assert.Equal(2 * Alignment, RamAddressAllocator.FindOffset([(0, Alignment + 4096)], 4096));
    }

    [Fact]
    public void FindOffset_TwoGapsThatFit_TakesTheSmaller()
    {
        // Blocks at 0, 4 MiB (leaving a 3.75 MiB gap after the first) and 5 MiB (a 0.75 MiB gap after the second).
        (long, long)[] used = [(0, 256 * KiB), (4 * MiB, 256 * KiB), (5 * MiB, 256 * KiB)];

        Assert.Equal((4 * MiB) + (256 * KiB), RamAddressAllocator.FindOffset(used, 512 * KiB));
        Assert.Equal(256 * KiB, RamAddressAllocator.FindOffset(used, 2 * MiB));
        Assert.Equal((5 * MiB) + (256 * KiB), RamAddressAllocator.FindOffset(used, 4 * MiB));
    }

    [Fact]
    public void Vm_Q35With512MiB_PcRamAtZeroAndPcBiosRightAfter()
    {
        using var test = new TestEmulator();
        var vm = test.CreateQ35(memoryBytes: 512 * MiB);

        Assert.Equal(0, vm.RamBlocks.Single(b => b.IdStr == "pc.ram").Offset);
        Assert.Equal(0x2000_0000, vm.RamBlocks.Single(b => b.IdStr == "pc.bios").Offset);
        Assert.Equal(0x2004_0000, vm.RamBlocks.Single(b => b.IdStr == "pc.rom").Offset);
    }

    [Property(MaxTest = 300)]
    public Property FindOffset_SequenceOfBlocks_NeverOverlapsAndAligned() =>
        Prop.ForAll(SizeSequences, sizes =>
        {
            var placed = PlaceAll(sizes);
            var overlapping = (from i in Enumerable.Range(0, placed.Count)
                               from j in Enumerable.Range(0, i)
                               where Overlap(placed[i], placed[j])
                               select (placed[j], placed[i])).ToList();
            var unaligned = placed.Where(p => p.Offset % Alignment != 0).ToList();

            return (placed[0].Offset == 0 && overlapping.Count == 0 && unaligned.Count == 0)
                .Label($"placed [{string.Join(", ", placed)}]; overlapping [{string.Join(", ", overlapping)}]; unaligned [{string.Join(", ", unaligned)}]");
        });

    [Property(MaxTest = 300)]
    public Property FindOffset_AfterRemovingBlocks_TakesTheSmallestGapThatFits() =>
        Prop.ForAll(PlaceRemovePlace, input =>
        {
            var placed = PlaceAll(input.Sizes);
            var remaining = placed.Where((_, i) => !input.Remove[i]).ToList();

            var offset = RamAddressAllocator.FindOffset(remaining, input.Next);

            // The oracle: the free gaps begin where a block ends (rounded up to the alignment, as QEMU's
            // find_ram_offset does) and reach to the next block, or to the end of the address space.
            var gaps = remaining
                .Select(b => (b.Offset + b.Length + Alignment - 1) / Alignment * Alignment)
                .Distinct()
                .Select(start => (Start: start, Length: remaining.Where(b => b.Offset >= start).Select(b => b.Offset).DefaultIfEmpty(long.MaxValue).Min() - start))
                .ToList();
            var fitting = gaps.Where(g => g.Length >= input.Next).ToList();
            bool ok;
            if (remaining.Count == 0)
            {
                ok = offset == 0;
            }
            else
            {
                var smallest = fitting.Min(g => g.Length);
                ok = fitting.Any(g => g.Start == offset && g.Length == smallest)
                    && remaining.All(b => !Overlap(b, (offset, input.Next)));
            }

            return ok.Label($"remaining [{string.Join(", ", remaining)}], next {input.Next}: got {offset}; gaps [{string.Join(", ", gaps)}]");
        });

    [Property(MaxTest = 200)]
    public Property FindOffset_GapLeftByRemovedBlock_ReusedBySameSize() =>
        Prop.ForAll(
            (from sizes in Gen.Choose(3, 15).SelectMany(count => Gen.ArrayOf(SizeGen, count))
             from victim in Gen.Choose(1, sizes.Length - 2)
             select (Sizes: sizes, Victim: victim)).ToArbitrary(),
            input =>
            {
                var placed = PlaceAll(input.Sizes);
                var removed = placed[input.Victim];
                placed.RemoveAt(input.Victim);

                var offset = RamAddressAllocator.FindOffset(placed, removed.Length);

                // The hole is a gap that fits exactly as well as any other; a new block never lands past the end
                // when the hole could take it, and never overlaps.
                var end = placed.Max(b => b.Offset + b.Length);
                return (offset < end && placed.All(b => !Overlap(b, (offset, removed.Length))))
                    .Label($"removed {removed} from [{string.Join(", ", placed)}]: new block at {offset}");
            });
}
