using System.Net;
using System.Net.Sockets;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Migration.Qemu;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Processes;
using static VmConsole.TestSupport.QemuLayouts;

namespace VmConsole.Qemu.Tests;

/// <summary>
/// RAM layouts QEMU 7.2 makes other than the machine's own main RAM block, against the real QEMU: memory-backend=ID on
/// microvm and q35, q35 with two NUMA nodes on two memdevs, q35 with three pc-dimms. Bytes written through qtest in
/// QEMU come into the console (file and live), are read back through the VM's guest memory, and go back to a QEMU
/// started from the command line the console builds for the VM (file and live), where qtest reads them again.
/// </summary>
public sealed class QemuLayoutTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Layouts() => [.. All];

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task ImportThenExport_QemuLayout_SameLayoutAndBytesBothWays(string layout)
    {
        var directory = QemuProcess.TempDirectory();
        try
        {
            var saved = Path.Combine(directory, "from-qemu.mig");
            (long Address, int Length)[] places;
            await using (var qemu = await QemuProcess.StartAsync(Arguments(layout)))
            {
                places = await PlacesAsync(layout, qemu);
                await WriteAsync(qemu, places);
                await qemu.QmpAsync("migrate", new { uri = $"exec:cat > {saved}" });
                await qemu.WaitMigrationAsync();
            }

            using var emulator = NewEmulator();
            QemuImportResult result;
            await using (var file = File.OpenRead(saved))
            {
                result = await new QemuStreamImport(emulator).ImportAsync("imported", "h1", file);
            }

            var vm = result.Vm;
            AssertLayout(layout, vm);
            AssertGuestBytes(vm, places);

            var exported = Path.Combine(directory, "to-qemu.mig");
            await using (var file = File.Create(exported))
            {
                await QemuStreamExport.ExportAsync(vm, file);
            }

            await using var back = await QemuProcess.StartAsync([.. QemuCommandLine.Layout(CrossDriverLayout.SpecFor(vm)), "-incoming", "defer"]);
            await back.QmpAsync("migrate-incoming", new { uri = $"exec:cat {exported}" });
            await back.WaitIncomingDoneAsync();
            await AssertQemuBytesAsync(back, places);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task LiveReceiveThenSend_QemuLayout_SameLayoutAndBytesBothWays(string layout)
    {
        using var emulator = NewEmulator();
        await using var qemu = await QemuProcess.StartAsync(Arguments(layout));
        var places = await PlacesAsync(layout, qemu);
        await WriteAsync(qemu, places);
        var uri = $"unix:{qemu.Directory}/incoming.sock";
        await using (var incoming = QemuIncomingMigration.Listen(emulator, new MigrationRegistry(), "live", "h1", uri))
        {
            await qemu.QmpAsync("migrate", new { uri });
            await qemu.WaitMigrationAsync();
            await incoming.Finished.WaitAsync(Bound);
            Assert.True(incoming.Status == MigrationStatus.Completed, incoming.ErrorDesc);
        }

        var vm = emulator.GetVm("live");
        AssertLayout(layout, vm);
        AssertGuestBytes(vm, places);

        var back = $"tcp:127.0.0.1:{FreePort()}";
        await using var destination = await QemuProcess.StartAsync([.. QemuCommandLine.Layout(CrossDriverLayout.SpecFor(vm)), "-incoming", back]);
        await using var engine = new MigrationEngine(emulator);
        var migration = engine.Start(new MigrationRequest("live") { Uri = back, QemuCompatible = true });
        await migration.Finished.WaitAsync(Bound);
        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.ErrorDesc}");
        await destination.WaitIncomingDoneAsync();
        await AssertQemuBytesAsync(destination, places);
    }

    private static void AssertLayout(string layout, Vm vm)
    {
        var main = vm.MainRamBlocks.Select(b => (b.IdStr, b.UsedLength >> 20)).ToList();
        switch (layout)
        {
            case "microvm-backend":
                Assert.Equal("mem", vm.Definition.MainRamBackend);
                Assert.Equal([("mem", 16L)], main);
                Assert.Null(vm.FindMigratable("microvm.ram"));
                break;
            case "q35-backend":
                Assert.Equal("ram0", vm.Definition.MainRamBackend);
                Assert.Equal([("ram0", 128L)], main);
                Assert.Null(vm.FindMigratable("pc.ram"));
                break;
            case "q35-numa":
                Assert.Null(vm.Definition.MainRamBackend);
                Assert.Equal([new NumaNode("m0", 64L << 20), new NumaNode("m1", 64L << 20)], vm.Definition.NumaNodes);
                Assert.Equal([("m0", 64L), ("m1", 64L)], main);
                Assert.Null(vm.FindMigratable("pc.ram"));
                break;
            case "q35-numa-unequal":
                // The stream lists m1 (the larger) first; the guest has m0 first, as the SRAT in the ACPI tables says.
                Assert.Equal([new NumaNode("m0", 32L << 20), new NumaNode("m1", 96L << 20)], vm.Definition.NumaNodes);
                Assert.Equal([("m0", 32L), ("m1", 96L)], main);
                break;
            default:
                Assert.Equal([("pc.ram", 128L)], main);
                Assert.Equal(["d0", "d1", "d2"], vm.Devices.Select(d => d.Memdev));
                break;
        }
    }

    private static void AssertGuestBytes(Vm vm, IEnumerable<(long Address, int Length)> places)
    {
        foreach (var (address, length) in places)
        {
            var read = new byte[length];
            vm.ReadGuest(address, read);
            Assert.Equal(Pattern(address, length), read);
        }
    }

    private static async Task AssertQemuBytesAsync(QemuProcess qemu, IEnumerable<(long Address, int Length)> places)
    {
        foreach (var (address, length) in places)
        {
            Assert.Equal(Pattern(address, length), await qemu.ReadAsync(address, length));
        }
    }

    private static Emulator NewEmulator()
    {
        var emulator = new Emulator();
        emulator.AddHost("h1", 4 * Sizes.GiB);
        return emulator;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
