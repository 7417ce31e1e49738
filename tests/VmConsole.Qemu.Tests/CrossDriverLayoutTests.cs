using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

/// <summary>
/// An emulated VM with a RAM layout other than the machine's own (NUMA nodes, a memory-backend) live-migrated to a QEMU
/// host against real QEMU 7.2: the QEMU the console starts has the VM's layout, and the bytes arrive where the guest
/// had them. Every process started under this test's directory is killed at the end, even when a test fails.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CrossDriverLayoutTests : CrossDriverTests
{
    public static TheoryData<string, string?, int[]> Layouts() => new()
    {
        { "q35", null, [32, 32] },
        { "pc", null, [48, 16] },
        { "microvm", "mem", [] },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task ToQemu_VmWithItsOwnLayout_QemuStartedWithItHasTheBytes(string machine, string? backend, int[] nodesMiB)
    {
        var memory = nodesMiB.Length > 0 ? nodesMiB.Sum() * Sizes.MiB : 32 * Sizes.MiB;
        var vm = Emulator.CreateVm(new VmDefinition("lay-1", "ehost-a", machine, memory)
        {
            MainRamBackend = backend,
            NumaNodes = [.. nodesMiB.Select((size, i) => new NumaNode($"node{i}", size * Sizes.MiB))],
            Start = true,
        });
        var firstNodeEnd = nodesMiB.Length > 0 ? nodesMiB[0] * Sizes.MiB : memory / 2;
        (long Address, int Length)[] places = [(0x10_0000, 4096), (firstNodeEnd - 100, 200), (memory - 4096, 4096)];
        foreach (var (address, length) in places)
        {
            vm.WriteGuest(address, Pattern(address, length));
        }

        var migration = await Cross.MigrateToQemuAsync("lay-1", "qhost-a", MigrationParameters.Default with { MaxBandwidth = 1L << 30 }, MigrationCapabilities.Default);
        await migration.Finished.WaitAsync(Bound);
        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.GetStats().ErrorDesc}");
        await Eventually.UntilAsync(() => Task.FromResult(Driver.IsNameTaken("lay-1") && Driver.GetDomain("lay-1").Running is not null), Bound, () => "the VM did not arrive on QEMU");

        var domain = Driver.GetDomain("lay-1");
        Assert.Equal(backend, domain.Spec.MainRamBackend);
        Assert.Equal(vm.Definition.NumaNodes, domain.Spec.NumaNodes);
        var blocks = await ((IVirtualMachine)domain).GetRamBlocksAsync();
        Assert.Equal(vm.MainRamBlocks.Select(b => (b.IdStr, b.UsedLength)), vm.MainRamBlocks.Select(b => blocks.Single(q => q.IdStr == b.IdStr)).Select(q => (q.IdStr, q.UsedLength)));
        var running = domain.Running!;
        foreach (var (address, length) in places)
        {
            var file = Path.Combine(running.RuntimeDirectory, $"pmem-{address:x}.bin");
            await running.RunAsync("pmemsave", new Dictionary<string, object> { ["val"] = address, ["size"] = length, ["filename"] = file }, CancellationToken.None);
            Assert.Equal(Pattern(address, length), await File.ReadAllBytesAsync(file));
        }
    }

    [Fact]
    public async Task FromQemuAndBack_NumaQemuVm_ArrivesWithItsNodesAndGoesBackToAQemuWithThem()
    {
        NumaNode[] nodes = [new("m0", 32 * Sizes.MiB), new("m1", 32 * Sizes.MiB)];
        var domain = (QemuDomain)await Driver.CreateVirtualMachineAsync(new VmDefinition("numa-q", "qhost-a", "q35", 64 * Sizes.MiB) { NumaNodes = nodes, Start = true });
        Assert.Contains("node,memdev=m1", domain.Spec.NumaNodes.Count == 2 ? string.Join(' ', domain.Process!.CommandLine) : "", StringComparison.Ordinal);
        var qemuBlocks = await ((IVirtualMachine)domain).GetRamBlocksAsync();
        Assert.Equal([("m0", 32 * Sizes.MiB), ("m1", 32 * Sizes.MiB)], qemuBlocks.Where(b => b.IdStr is "m0" or "m1").Select(b => (b.IdStr, b.UsedLength)));
        Assert.DoesNotContain(qemuBlocks, b => b.IdStr == "pc.ram");
        var file = await QemuDomainFile.LoadAsync(Driver.Hosts[0].VmDirectory("numa-q"));
        Assert.Equal(nodes, file!.ToSpec().NumaNodes);

        var toEmulator = await Cross.MigrateFromQemuAsync("numa-q", "ehost-a", MigrationParameters.Default with { MaxBandwidth = 1L << 30 }, MigrationCapabilities.Default);
        await toEmulator.Finished.WaitAsync(Bound);
        Assert.True(toEmulator.Status == MigrationStatus.Completed, $"{toEmulator.Status}: {toEmulator.GetStats().ErrorDesc}");
        await Eventually.Until(() => Emulator.IsNameTaken("numa-q") && Emulator.TryGetVm("numa-q", out _), Bound, () => "the VM did not arrive in the emulator");
        var vm = Emulator.GetVm("numa-q");
        Assert.Equal(nodes, vm.Definition.NumaNodes);
        (long Address, int Length)[] places = [(0x1FF_F800, 4096), (0x3FF_F000, 4096)];
        foreach (var (address, length) in places)
        {
            vm.WriteGuest(address, Pattern(address, length));
        }

        // Paused, so that the QEMU it goes to stays paused: a guest without its CPU state would boot from reset there.
        vm.Pause();
        var back = await Cross.MigrateToQemuAsync("numa-q", "qhost-a", MigrationParameters.Default with { MaxBandwidth = 1L << 30 }, MigrationCapabilities.Default);
        await back.Finished.WaitAsync(Bound);
        Assert.True(back.Status == MigrationStatus.Completed, $"{back.Status}: {back.GetStats().ErrorDesc}");
        await Eventually.UntilAsync(() => Task.FromResult(Driver.IsNameTaken("numa-q") && Driver.GetDomain("numa-q").Running is not null), Bound, () => "the VM did not arrive on QEMU");
        var returned = Driver.GetDomain("numa-q");
        Assert.Equal(nodes, returned.Spec.NumaNodes);
        foreach (var (address, length) in places)
        {
            Assert.Equal(Pattern(address, length), await ((IVirtualMachine)returned).ReadGuestPhysicalAsync(address, length));
        }
    }
}
