using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

/// <summary>
/// A QEMU VM sent to an emulator host and straight back to the QEMU host it left, against real QEMU 7.2: the way back
/// starts its destination QEMU in a folder of the VM's name on that host while the departed source QEMU may still be
/// quitting in the folder of the same name. Every process started under this test's directory is killed at the end,
/// even when a test fails.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CrossDriverRoundTripTests : CrossDriverTests
{
    private static readonly MigrationParameters Fast = MigrationParameters.Default with { MaxBandwidth = 1L << 30 };

    [Fact]
    public async Task FromQemuAndStraightBack_SameHostAtOnce_EveryWayBackCompletesAndTheVmRunsInItsFolder()
    {
        await Driver.CreateVirtualMachineAsync(new VmDefinition("round-q", "qhost-a", "q35", 32 * Sizes.MiB) { Start = true });
        var folder = Driver.Hosts[0].VmDirectory("round-q");
        for (var trip = 1; trip <= 4; trip++)
        {
            var toEmulator = await Cross.MigrateFromQemuAsync("round-q", "ehost-a", Fast, MigrationCapabilities.Default);
            await toEmulator.Finished.WaitAsync(Bound);
            Assert.True(toEmulator.Status == MigrationStatus.Completed, $"trip {trip} to the emulator: {toEmulator.Status}: {toEmulator.GetStats().ErrorDesc}");
            var vm = Emulator.GetVm("round-q");
            vm.WriteGuest(0x10_0000, Pattern(trip));

            // No waiting for the source QEMU to quit or its folder to go: the way back starts at once.
            var back = await Cross.MigrateToQemuAsync("round-q", "qhost-a", Fast, MigrationCapabilities.Default);
            await back.Finished.WaitAsync(Bound);
            Assert.True(back.Status == MigrationStatus.Completed, $"trip {trip} back to QEMU: {back.Status}: {back.GetStats().ErrorDesc}");
            await Eventually.UntilAsync(
                () => Task.FromResult(Driver.TryGetVirtualMachine("round-q", out var arrived) && ((QemuDomain)arrived).Running is not null),
                Bound,
                () => $"trip {trip}: the VM did not arrive on QEMU");

            var domain = Driver.GetDomain("round-q");
            Assert.Equal(folder, domain.Running!.RuntimeDirectory);
            Assert.True(File.Exists(Path.Combine(folder, QemuCommandLine.PidFile)), $"trip {trip}: the QEMU the VM runs in has no pid file in its folder");
            Assert.Equal((await QemuDomainFile.LoadAsync(folder))?.Id, domain.Id);
            Assert.Equal(Pattern(trip), await ((Emulation.Drivers.IVirtualMachine)domain).ReadGuestPhysicalAsync(0x10_0000, 4096));
        }
    }

    [Fact]
    public async Task CreateUnderADepartingName_OldQemuNeverGoes_WaitsThenRefusedWithVmMoving()
    {
        var time = new FakeTimeProvider();
        await using var driver = new QemuDriver([new QemuHostConfig("qhost-b", 4 * Sizes.GiB, QemuLauncher.DefaultBinary, Path.Combine(RuntimeDirectory, "b"))], TimeSpan.FromSeconds(10)) { DepartureTime = time };
        using var departure = driver.BeginDeparture("slow-q", driver.Hosts[0]);

        var create = driver.CreateVirtualMachineAsync(new VmDefinition("slow-q", "qhost-b", "q35", 32 * Sizes.MiB));
        Assert.False(create.IsCompleted);
        time.Advance(QemuDriver.DepartureTimeout);

        var refused = await Assert.ThrowsAsync<DomainException>(() => create);
        Assert.Equal(ErrorCodes.VmMoving, refused.Code);
        Assert.Contains(driver.Hosts[0].VmDirectory("slow-q"), refused.Message, StringComparison.Ordinal);
        Assert.False(driver.IsNameTaken("slow-q"));
    }

    [Fact]
    public async Task CreateUnderADepartingName_OldQemuGoes_DefinedOnceItHasGone()
    {
        var time = new FakeTimeProvider();
        await using var driver = new QemuDriver([new QemuHostConfig("qhost-b", 4 * Sizes.GiB, QemuLauncher.DefaultBinary, Path.Combine(RuntimeDirectory, "b"))], TimeSpan.FromSeconds(10)) { DepartureTime = time };
        var departure = driver.BeginDeparture("slow-q", driver.Hosts[0]);

        var create = driver.CreateVirtualMachineAsync(new VmDefinition("slow-q", "qhost-b", "q35", 32 * Sizes.MiB));
        Assert.False(driver.IsNameTaken("slow-q"));
        departure.Dispose();

        await create.WaitAsync(Bound);
        Assert.True(driver.IsNameTaken("slow-q"));
        Assert.NotNull(await QemuDomainFile.LoadAsync(driver.Hosts[0].VmDirectory("slow-q")));
    }

    private static byte[] Pattern(int trip) => [.. Enumerable.Range(0, 4096).Select(i => (byte)((i * 7 + trip * 31) % 251 + 1))];
}
