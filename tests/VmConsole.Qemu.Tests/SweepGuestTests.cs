using System.Buffers.Binary;
using VmConsole.Emulation;
using VmConsole.Qemu.Guests;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

public sealed class SweepGuestTests
{
    [Fact]
    public void Image_MultibootHeader_ChecksumsAndAddresses()
    {
        var image = new SweepGuest(2 * Sizes.MiB, 64 * Sizes.MiB).Image();

        uint Field(int i) => BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(i * 4));
        Assert.Equal(0x1BADB002u, Field(0));
        Assert.Equal(0u, unchecked(Field(0) + Field(1) + Field(2)));
        Assert.Equal(0x100000u, Field(4));
        Assert.Equal(0x100000u + (uint)image.Length, Field(5));
        Assert.Equal(0x100020u, Field(7));
        Assert.Equal((uint)(2 * Sizes.MiB), BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(32 + 2)));
        Assert.Equal((uint)(64 * Sizes.MiB), BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(32 + 7)));
    }

    [Theory]
    [InlineData(new byte[] { 5, 5, 5, 5 }, true)]
    [InlineData(new byte[] { 6, 6, 5, 5 }, true)]
    [InlineData(new byte[] { 0, 0, 255, 255 }, true)]
    [InlineData(new byte[] { 6, 5, 6, 5 }, false)]
    [InlineData(new byte[] { 6, 6, 4, 4 }, false)]
    [InlineData(new byte[] { 5, 6, 6, 6 }, false)]
    public void Check_FirstBytes_HoldsOnlyForOneSweepPosition(byte[] firstBytes, bool holds) =>
        Assert.Equal(holds, SweepGuest.Check(firstBytes) is null);

    [Theory]
    [InlineData(1, 64)]
    [InlineData(2, 2)]
    [InlineData(2, 300)]
    public void Validate_RangeOutsideTheGuest_Refused(long startMiB, long endMiB) =>
        Assert.Equal(ErrorCodes.OutOfRange, Assert.Throws<DomainException>(() => new SweepGuest(startMiB * Sizes.MiB, endMiB * Sizes.MiB).Validate(256 * Sizes.MiB)).Code);

    [Fact]
    public void CommandLine_SweepGuest_LoadedAsAKernelOnlyOnPcAndQ35()
    {
        var spec = new QemuVmSpec("s", "q35", 256 * Sizes.MiB) { Guest = SweepGuest.For(256 * Sizes.MiB) };
        Assert.Contains("/run/s/sweep.bin", QemuCommandLine.Build(spec, "/run/s"));
        Assert.Throws<DomainException>(() => QemuCommandLine.Build(spec with { Machine = "microvm", MemoryBytes = 16 * Sizes.MiB, Guest = new SweepGuest(2 * Sizes.MiB, 8 * Sizes.MiB) }, "/run/s"));
    }
}
