using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Guests;

namespace VmConsole.Qemu.Tests;

/// <summary>
/// Multifd with real QEMU 7.2 on the other end, in both directions, in the shape of QEMU's migration-test matrix
/// (compression none, zlib and zstd, 2 and 16 channels; cancel, then a second migration): the console's channels into a
/// QEMU destination, and a QEMU source's channels into the console's listener. Memory is checked byte for byte (a paused
/// VM's patterns read back with pmemsave) or by the sweep guest's invariant (every page equals its predecessor but at one
/// place). Every process started under the test's directory is killed at the end, even when a test fails.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CrossDriverMultifdTests : CrossDriverTests
{
    public static TheoryData<MultifdCompression, int> Matrix => new()
    {
        { MultifdCompression.None, 2 },
        { MultifdCompression.None, 16 },
        { MultifdCompression.Zlib, 2 },
        { MultifdCompression.Zlib, 16 },
        { MultifdCompression.Zstd, 2 },
        { MultifdCompression.Zstd, 16 },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task ToQemu_Multifd_QemuHasEveryByte(MultifdCompression compression, int channels)
    {
        var name = $"mfd-{compression.ToQemuName()}-{channels}";
        var vm = Emulator.CreateVm(new VmDefinition(name, "ehost-a", "pc", 64 * Sizes.MiB) { Start = true });
        const long start = 0x10_0000;
        const int length = 24 * (int)Sizes.MiB;
        for (long address = start; address < start + length; address += 4096)
        {
            // Every other page written: zero pages go on the main stream, the rest on the channels.
            if ((address / 4096) % 2 == 0)
            {
                vm.WriteGuest(address, Pattern(address, 4096));
            }
        }

        vm.Pause();
        var expected = new byte[length];
        vm.ReadGuest(start, expected);
        var arrived = ArrivedOnQemu(name);

        var migration = await Cross.MigrateToQemuAsync(name, "qhost-a", Parameters(compression, channels), MigrationCapabilities.Default with { Multifd = true });
        await migration.Finished.WaitAsync(Bound);
        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        await arrived.WaitAsync(Bound);

        var domain = (QemuDomain)Driver.GetDomain(name);
        var actual = await PhysicalMemoryAsync(domain, start, length);
        var first = FirstDifference(expected, actual);
        Assert.True(first < 0, $"QEMU's memory differs from the console's at guest address 0x{start + first:x}");
        Assert.True(migration.GetStats().Normal >= length / 4096 / 2, "the written pages did not all go");
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task FromQemu_Multifd_SweepGuestArrivesWhole(MultifdCompression compression, int channels)
    {
        var name = $"sweep-{compression.ToQemuName()}-{channels}";
        var domain = await StartSweepAsync(name);

        var migration = await Cross.MigrateFromQemuAsync(name, "ehost-a", Parameters(compression, channels), MigrationCapabilities.Default with { Multifd = true, AutoConverge = true });
        await migration.Finished.WaitAsync(Bound);

        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        Assert.True(migration.Capabilities.Multifd);
        Assert.Equal(channels, migration.Parameters.MultifdChannels);
        AssertSweepWhole(Emulator.GetVm(name));
    }

    [Fact]
    public async Task FromQemu_MultifdCancelledMidWay_ThenASecondMigrationCompletes()
    {
        var domain = await StartSweepAsync("sweep-cancel");
        var slow = Parameters(MultifdCompression.None, 4) with { MaxBandwidth = Sizes.MiB };

        var first = await Cross.MigrateFromQemuAsync("sweep-cancel", "ehost-a", slow, MigrationCapabilities.Default with { Multifd = true });
        await Eventually.Until(() => first.Status == MigrationStatus.Active && first.GetStats().Transferred > 0, Bound, () => $"the first migration is {first.Status}");
        first.Cancel();
        await first.Finished.WaitAsync(Bound);

        Assert.Equal(MigrationStatus.Cancelled, first.Status);
        Assert.False(Emulator.IsNameTaken("sweep-cancel"));
        await Eventually.Until(() => domain.RunState == RunState.Running && !domain.Frozen, Bound, () => $"the source is {domain.RunState}, frozen {domain.Frozen}");

        var second = await Cross.MigrateFromQemuAsync("sweep-cancel", "ehost-a", slow with { MaxBandwidth = 1L << 30 }, MigrationCapabilities.Default with { Multifd = true });
        await second.Finished.WaitAsync(Bound);

        Assert.True(second.Status == MigrationStatus.Completed, $"{second.Status}: {second.GetStats().ErrorDesc}");
        AssertSweepWhole(Emulator.GetVm("sweep-cancel"));
    }

    [Fact]
    public async Task ToQemu_MultifdCancelledMidWay_ThenASecondMigrationCompletes()
    {
        var vm = Emulator.CreateVm(new VmDefinition("mfd-cancel", "ehost-a", "pc", 64 * Sizes.MiB) { Start = true });
        for (long address = 0x20_0000; address < 0x300_0000; address += 4096)
        {
            vm.WriteGuest(address, Pattern(address, 4096));
        }

        var directory = Driver.Hosts[0].VmDirectory("mfd-cancel");
        var first = await Cross.MigrateToQemuAsync("mfd-cancel", "qhost-a", Parameters(MultifdCompression.Zstd, 4) with { MaxBandwidth = Sizes.MiB }, MigrationCapabilities.Default with { Multifd = true });
        await Eventually.Until(() => first.Status == MigrationStatus.Active, Bound, () => $"the first migration is {first.Status}");
        first.Cancel();
        await first.Finished.WaitAsync(Bound);

        Assert.Equal(MigrationStatus.Cancelled, first.Status);
        Assert.Equal(RunState.Running, vm.RunState);
        await Eventually.Until(() => QemuPidsUnder(directory).Count == 0 && !Directory.Exists(directory), Bound, () => "the first destination QEMU or its directory is still there");

        var arrived = ArrivedOnQemu("mfd-cancel");
        var second = await Cross.MigrateToQemuAsync("mfd-cancel", "qhost-a", Parameters(MultifdCompression.Zstd, 4), MigrationCapabilities.Default with { Multifd = true });
        await second.Finished.WaitAsync(Bound);
        Assert.True(second.Status == MigrationStatus.Completed, $"{second.Status}: {second.GetStats().ErrorDesc}");
        await arrived.WaitAsync(Bound);
        Assert.Equal(Pattern(0x2F0_0000, 4096), await PhysicalMemoryAsync((QemuDomain)Driver.GetDomain("mfd-cancel"), 0x2F0_0000, 4096));
    }

    [Fact]
    public async Task ToQemu_AutoConvergeWithPauseBeforeSwitchover_ThrottledThenQemuHasEveryByteTheSourceStoppedWith()
    {
        // QEMU's "auto-converge" test: a guest dirtying faster than the link, throttled until it converges, checked
        // against the memory the source stopped with at pre-switchover.
        var vm = Emulator.CreateVm(new VmDefinition("conv-1", "ehost-a", "pc", 32 * Sizes.MiB)
        {
            Start = true,
            Workload = new Emulation.Workloads.WorkloadSpec(Emulation.Workloads.WorkloadKind.Uniform, 4_000, 16 * Sizes.MiB),
        });
        var arrived = ArrivedOnQemu("conv-1");
        var parameters = MigrationParameters.Default with { MaxBandwidth = 4 * Sizes.MiB, DowntimeLimit = 100, CpuThrottleIncrement = 20 };

        var migration = await Cross.MigrateToQemuAsync("conv-1", "qhost-a", parameters, MigrationCapabilities.Default with { AutoConverge = true, PauseBeforeSwitchover = true });
        await Eventually.Until(() => migration.Status == MigrationStatus.PreSwitchover || migration.Status.IsFinal(), Bound, () => $"the migration is {migration.Status}");
        Assert.True(migration.Status == MigrationStatus.PreSwitchover, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        // From 2 MiB to 16 MiB (most of the guest's 16 MiB working set): the guest runs on in QEMU, and an emulator-born
        // VM runs QEMU's firmware there, which writes below 1 MiB, in its tables near the top of RAM, and sometimes just
        // above 1 MiB (seen: 0x105000-0x10f000, one run in three, e.g. 7E4B0500 00820400 over a zero page at 0x10e000).
        const long start = 0x20_0000;
        var stoppedWith = new byte[14 * (int)Sizes.MiB];
        vm.ReadGuest(start, stoppedWith);
        await migration.ContinueAsync();
        await migration.Finished.WaitAsync(Bound);

        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        Assert.NotEmpty(migration.ThrottleSteps);
        await arrived.WaitAsync(Bound);
        var actual = await PhysicalMemoryAsync((QemuDomain)Driver.GetDomain("conv-1"), start, stoppedWith.Length);
        var first = FirstDifference(stoppedWith, actual);
        Assert.True(first < 0, $"QEMU's memory differs from what the source stopped with at guest address 0x{start + first:x}");
    }

    private static MigrationParameters Parameters(MultifdCompression compression, int channels) =>
        MigrationParameters.Default with { MaxBandwidth = 1L << 30, MultifdChannels = channels, MultifdCompression = compression };

    private async Task<QemuDomain> StartSweepAsync(string name)
    {
        var domain = (QemuDomain)await Driver.CreateVirtualMachineAsync(new VmDefinition(name, "qhost-a", "pc", 128 * Sizes.MiB) { Guest = GuestProgram.Sweep, Start = true });

        // The guest has swept its whole range once (its last page counted) before it moves, however slow the machine.
        var sweep = new SweepGuest(SweepGuest.LowestStart, 66 * Sizes.MiB);
        await Eventually.UntilAsync(async () => (await domain.ReadGuestPhysicalAsync(sweep.End - SweepGuest.PageSize, 1))[0] != 0, Bound, () => "the sweep guest never swept its range");
        return domain;
    }

    private static long FirstDifference(byte[] expected, byte[] actual)
    {
        if (expected.Length != actual.Length)
        {
            return Math.Min(expected.Length, actual.Length);
        }

        var common = expected.AsSpan().CommonPrefixLength(actual);
        return common == expected.Length ? -1 : common;
    }
}
