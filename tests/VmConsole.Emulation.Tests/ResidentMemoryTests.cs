using System.Globalization;
using Xunit.Abstractions;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

[Collection(NonParallelCollection.Name)]
public sealed class ResidentMemoryTests(ITestOutputHelper output)
{
    /// <summary>The process's resident set (VmRSS in /proc/self/status).</summary>
    private static long ResidentBytes()
    {
        var line = File.ReadLines("/proc/self/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        var kib = line["VmRSS:".Length..].Trim().Split(' ')[0];
        return long.Parse(kib, CultureInfo.InvariantCulture) * KiB;
    }

    [Fact]
    public async Task Vm4GiB_Writing10MiB_ResidentMemoryGrowsBy10MiBNot4GiB()
    {
        Assert.True(OperatingSystem.IsLinux(), "Guest memory is lazily backed, and VmRSS readable, on Linux.");
        using var test = new TestEmulator(capacityBytes: 8 * GiB);

        // Warm up the code paths once, so that what is measured is guest memory, not JIT output.
        test.CreateQ35("warmup", 64 * MiB).MainRam.Write(0, new byte[MiB]);
        await test.Emulator.DeleteVmAsync("warmup");
        var chunk = new byte[MiB];
        new Random(1).NextBytes(chunk);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var before = ResidentBytes();

        var vm = test.CreateQ35("big", 4 * GiB);
        var created = ResidentBytes();
        for (var i = 0; i < 10; i++)
        {
            // Spread over the whole 4 GiB, both below and above the 4 GiB guest-physical split.
            vm.MainRam.Write(i * 400 * MiB, chunk);
        }

        var written = ResidentBytes();
        var growth = written - before;

        output.WriteLine($"resident: {Format(before)} before, +{Format(created - before)} after creating, +{Format(growth)} after writing");
        var read = new byte[MiB];
        vm.MainRam.Read(9 * 400 * MiB, read);
        Assert.Equal(chunk, read);
        Assert.Equal(4 * GiB, vm.MainRam.UsedLength);
        Assert.True(growth < 64 * MiB, $"Resident memory grew by {Format(growth)} for 10 MiB written to a 4 GiB VM.");
        Assert.True(written - created > 8 * MiB, $"Writing 10 MiB grew resident memory by only {Format(written - created)}: the measurement does not see guest memory.");
    }
}
