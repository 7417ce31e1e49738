using System.Collections.Concurrent;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Server.Domain;

namespace VmConsole.Server.Tests;

public sealed class VmWatchTests
{
    [Fact]
    public async Task Refresh_AfterAMigrationAndADelete_FollowsTheMovedVmAndLetsGoOfTheRest()
    {
        using var emulator = new Emulator();
        emulator.AddHost("host-a", 4 * Sizes.GiB);
        emulator.AddHost("host-b", 4 * Sizes.GiB);
        var first = emulator.CreateVm(new VmDefinition("vm1", "host-a", "q35", 32 * Sizes.MiB) { Start = true });
        var second = emulator.CreateVm(new VmDefinition("vm2", "host-a", "q35", 32 * Sizes.MiB) { Start = true });
        var seen = new ConcurrentQueue<(VmConsole.Emulation.Drivers.IVirtualMachine Vm, VmChangeKind Kind)>();
        using var watch = new VmWatch(new VmConsole.Emulation.Drivers.VmInventory([emulator]), (vm, kind) => seen.Enqueue((vm, kind)));
        emulator.InventoryChanged += (_, _) => watch.Refresh();
        await using var engine = new MigrationEngine(emulator);

        await engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" }).Finished.WaitAsync(TimeSpan.FromSeconds(30));
        await emulator.DeleteVmAsync("vm2");
        var moved = emulator.GetVm("vm1");
        seen.Clear();

        moved.Pause();
        watch.Dispose();
        moved.Resume();

        Assert.NotSame(first, moved);
        Assert.Equal([((VmConsole.Emulation.Drivers.IVirtualMachine)moved, VmChangeKind.RunState)], seen);
        Assert.Null(typeof(Vm).GetField("StateChanged", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!.GetValue(second));
    }
}
