using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Guests;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

/// <summary>
/// A QEMU VM's way through the emulator and back, live, with its CPU and device state: a paused sweep guest moves to an
/// emulator host and then to a QEMU host, where it has the registers and memory it had and goes on when resumed.
/// Every process started under this test's directory is killed at the end, even when the test fails.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CrossDriverDeviceStateTests : CrossDriverTests
{
    private const long Memory = 64 * Sizes.MiB;

    [Fact]
    public async Task QemuToEmulatorToQemu_PausedSweepGuest_SameRegistersAndMemoryAndItGoesOn()
    {
        var source = (QemuDomain)await Driver.CreateVirtualMachineAsync(new VmDefinition("round", "qhost-a", "pc", Memory) { Guest = GuestProgram.Sweep, Start = true });
        var sweep = SweepGuest.For(Memory);
        await Eventually.UntilAsync(async () => (await source.ReadGuestPhysicalAsync(sweep.End - SweepGuest.PageSize, 1))[0] != 0, Bound, () => "the sweep never got through its range");
        await source.PowerAsync(PowerAction.Pause);
        var registers = await HmpAsync(source, "info registers");
        var memory = await PhysicalMemoryAsync(source);

        var toEmulator = await Cross.MigrateFromQemuAsync("round", "ehost-a", MigrationParameters.Default with { MaxBandwidth = 1L << 30 }, MigrationCapabilities.Default);
        await toEmulator.Finished.WaitAsync(Bound);
        Assert.True(toEmulator.Status == MigrationStatus.Completed, $"{toEmulator.Status}: {toEmulator.GetStats().ErrorDesc}");
        await Eventually.Until(() => Emulator.TryGetVm("round", out _) && !Driver.IsNameTaken("round"), failure: () => "the VM did not move to the emulator");
        var emulated = Emulator.GetVm("round");
        Assert.Contains(emulated.DeviceState!.Sections, s => s.IdStr == "cpu");
        if (emulated.RunState == RunState.Running)
        {
            // Paused here, it arrives paused in QEMU, so that its registers are read before it runs on.
            await emulated.PowerAsync(PowerAction.Pause);
        }

        var toQemu = await Cross.MigrateToQemuAsync("round", "qhost-a", MigrationParameters.Default with { MaxBandwidth = 1L << 30 }, MigrationCapabilities.Default);
        await toQemu.Finished.WaitAsync(Bound);
        Assert.True(toQemu.Status == MigrationStatus.Completed, $"{toQemu.Status}: {toQemu.GetStats().ErrorDesc}");
        await Eventually.Until(() => Driver.IsNameTaken("round") && !Emulator.IsNameTaken("round"), failure: () => "the VM did not move to QEMU");
        var returned = (QemuDomain)Driver.GetDomain("round");

        Assert.Equal(registers, await HmpAsync(returned, "info registers"));
        var arrived = await PhysicalMemoryAsync(returned);
        Assert.True(memory.AsSpan().SequenceEqual(arrived), $"guest memory differs first at 0x{memory.AsSpan().CommonPrefixLength(arrived):x}");
        await returned.PowerAsync(PowerAction.Resume);
        await Eventually.UntilAsync(async () => (await returned.ReadGuestPhysicalAsync(SweepGuest.LowestStart, 1))[0] != memory[SweepGuest.LowestStart], Bound, () => "the returned guest does not write its memory");
        await returned.PowerAsync(PowerAction.Pause);
        var after = await PhysicalMemoryAsync(returned);
        Assert.True(memory.AsSpan(0, 1 << 20).SequenceEqual(after.AsSpan(0, 1 << 20)), "the first MiB changed: the firmware ran again");
    }

    private static async Task<string> HmpAsync(QemuDomain domain, string command) =>
        (await domain.Running!.RunAsync("human-monitor-command", new Dictionary<string, object> { ["command-line"] = command }, CancellationToken.None)).GetString()!;

    /// <summary>All guest RAM as QEMU has it: <c>pmemsave</c> into the VM's runtime directory.</summary>
    private static async Task<byte[]> PhysicalMemoryAsync(QemuDomain domain)
    {
        var vm = domain.Running!;
        var file = Path.Combine(vm.RuntimeDirectory, "pmem.bin");
        await vm.RunAsync("pmemsave", new Dictionary<string, object> { ["val"] = 0L, ["size"] = Memory, ["filename"] = file }, CancellationToken.None);
        var bytes = await File.ReadAllBytesAsync(file);
        File.Delete(file);
        return bytes;
    }
}
