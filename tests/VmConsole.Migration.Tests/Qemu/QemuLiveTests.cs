using System.Net;
using System.Net.Sockets;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Qemu;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>Live migrations between the real QEMU 7.2 and VmConsole, both ways, over unix and loopback tcp sockets.</summary>
public sealed class QemuLiveTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Incoming_MicrovmFromQemuOverUnix_CompletesWithTheBytesAndStats()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        await using var qemu = await QemuProcess.StartMicrovmAsync();
        await QemuStreams.WriteAsync(qemu, QemuExportTests.Places);
        var uri = $"unix:{qemu.Directory}/incoming.sock";
        var blocksWhileArriving = new List<string>();
        emulator.InventoryChanged += (kind, name) =>
        {
            if (kind == Emulation.InventoryChangeKind.VmArriving && emulator.TryGetArriving(name, out var a) && a.Received is { } received)
            {
                blocksWhileArriving.AddRange(received.RamBlocks.Select(b => b.IdStr));
                Assert.Equal(RunState.InMigrate, received.RunState);
            }
        };
        await using var incoming = QemuIncomingMigration.Listen(emulator, new VmConsole.Migration.Model.MigrationRegistry(), "from-qemu", host, uri);
        Assert.Equal(MigrationStatus.Setup, incoming.Status);

        // Listed in inmigrate from the moment it listens, before QEMU was told anything; every action refused.
        var arriving = Assert.Single(emulator.Arriving);
        Assert.Same(incoming.Arriving, arriving);
        Assert.Equal(("from-qemu", RunState.InMigrate, host), (arriving.Name, arriving.RunState, arriving.Host.Name));
        Assert.Equal("vm-inmigrate", Assert.Throws<Emulation.DomainException>(() => emulator.GetVm("from-qemu")).Code);

        await qemu.QmpAsync("migrate", new { uri });
        await qemu.WaitMigrationAsync();
        await incoming.Finished.WaitAsync(Bound);

        Assert.True(incoming.Status == MigrationStatus.Completed, incoming.ErrorDesc);
        Assert.Contains("microvm.ram", blocksWhileArriving);
        Assert.Empty(emulator.Arriving);
        var vm = emulator.GetVm("from-qemu");
        Assert.Equal(arriving.Id, vm.Id);
        // The source QEMU never ran (-S): its globalstate says prelaunch, so the VM arrives paused, as in a QEMU destination.
        Assert.Equal(RunState.Paused, vm.RunState);
        foreach (var (address, length) in QemuExportTests.Places)
        {
            var read = new byte[length];
            vm.ReadGuest(address, read);
            Assert.Equal(QemuStreams.Pattern(address, length), read);
        }

        var stats = incoming.GetStats();
        Assert.Equal(MigrationStatus.Completed, stats.Status);
        Assert.Equal(incoming.Result!.BytesRead, stats.Transferred);
        Assert.Equal(vm.RamBlocks.Where(b => b.Migratable).Sum(b => b.UsedLength), stats.Total);
        Assert.True(stats.Normal >= 4, $"{stats.Normal} normal pages");
        Assert.True(stats.Normal + stats.Duplicate >= stats.Total / 4096);
        Assert.Contains(vm.DeviceState!.Sections, s => s.IdStr == "cpu");
    }

    [Fact]
    public async Task Incoming_Q35WithPcDimmFromQemuOverTcp_AllBlocksAndBytes()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        await using var qemu = await QemuProcess.StartQ35WithDimmAsync();
        var dimmBase = (await qemu.QmpAsync("query-memory-devices"))!.AsArray().Single()!["data"]!["addr"]!.GetValue<long>();
        (long, int)[] places = [(0x2000, 1), (0x1234_5678, 8), (dimmBase + 0x20, 16), (dimmBase + 0x7FF_F000, 4096)];
        await QemuStreams.WriteAsync(qemu, places);
        var uri = $"tcp:127.0.0.1:{FreePort()}";
        await using var incoming = QemuIncomingMigration.Listen(emulator, new VmConsole.Migration.Model.MigrationRegistry(), "q35-live", host, uri);

        await qemu.QmpAsync("migrate", new { uri });
        await qemu.WaitMigrationAsync();
        await incoming.Finished.WaitAsync(Bound);

        Assert.True(incoming.Status == MigrationStatus.Completed, incoming.ErrorDesc);
        var vm = emulator.GetVm("q35-live");
        Assert.Equal(7, incoming.Result!.Blocks.Count);
        Assert.Equal("mem1", Assert.Single(vm.Devices).Memdev);
        foreach (var (address, length) in places)
        {
            var read = new byte[length];
            vm.ReadGuest(address, read);
            Assert.Equal(QemuStreams.Pattern(address, length), read);
        }
    }

    [Fact]
    public async Task Incoming_QemuOfAnotherMachine_FailsWithErrorDescAndNoVm()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        await using var qemu = await QemuProcess.StartAsync(["-M", "isapc", "-m", "16M"]);
        var uri = $"unix:{qemu.Directory}/incoming.sock";
        await using var incoming = QemuIncomingMigration.Listen(emulator, new VmConsole.Migration.Model.MigrationRegistry(), "nope", host, uri);

        await qemu.QmpAsync("migrate", new { uri });
        await incoming.Finished.WaitAsync(Bound);

        Assert.Equal(MigrationStatus.Failed, incoming.Status);
        Assert.Contains("Machine type received is 'isapc'", incoming.ErrorDesc, StringComparison.Ordinal);
        Assert.Equal(incoming.ErrorDesc, incoming.GetStats().ErrorDesc);
        Assert.Empty(emulator.Vms);
        Assert.Empty(emulator.Arriving);
        Assert.False(emulator.IsNameTaken("nope"));
        Assert.Equal(0, emulator.GetHost(host).ReservedBytes);
    }

    [Fact]
    public async Task Incoming_CancelledWhileListening_Cancelled()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        var directory = QemuProcess.TempDirectory();
        try
        {
            var incoming = QemuIncomingMigration.Listen(emulator, new VmConsole.Migration.Model.MigrationRegistry(), "never", host, $"unix:{directory}/in.sock");
            var takenWhenCancelled = false;
            incoming.StatusChanged += (_, status) => takenWhenCancelled |= status == MigrationStatus.Cancelled && emulator.IsNameTaken("never");
            Assert.Single(emulator.Arriving);
            incoming.Cancel();
            await incoming.Finished.WaitAsync(Bound);
            Assert.Equal(MigrationStatus.Cancelled, incoming.Status);
            Assert.False(File.Exists($"{directory}/in.sock"));
            Assert.Empty(emulator.Arriving);
            Assert.False(takenWhenCancelled, "the name was still taken when cancelled was raised");
            await incoming.DisposeAsync();
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Incoming_PortInUse_Is409AddressInUseAndNothingArrives()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;

        var refused = Assert.Throws<Emulation.DomainException>(() => QemuIncomingMigration.Listen(emulator, new VmConsole.Migration.Model.MigrationRegistry(), "busy", host, $"tcp:127.0.0.1:{port}"));

        Assert.Equal(("address-in-use", Emulation.ErrorKind.Conflict), (refused.Code, refused.Kind));
        Assert.Contains($"tcp:127.0.0.1:{port}", refused.Message, StringComparison.Ordinal);
        Assert.Empty(emulator.Arriving);
        Assert.False(emulator.IsNameTaken("busy"));
    }

    [Fact]
    public async Task Outgoing_MicrovmToQemuOverUnix_QemuReadsTheBytesBack()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        var vm = emulator.CreateVm(new VmDefinition("vm1", host, "microvm", 16 << 20) { Start = true });
        foreach (var (address, length) in QemuExportTests.Places)
        {
            vm.WriteGuest(address, QemuStreams.Pattern(address, length));
        }

        var directory = QemuProcess.TempDirectory();
        try
        {
            var socket = $"{directory}/qemu-in.sock";
            await using var qemu = await QemuProcess.StartMicrovmAsync("-incoming", $"unix:{socket}");
            await using var engine = new MigrationEngine(emulator);
            var migration = engine.Start(new MigrationRequest("vm1") { Uri = $"unix:{socket}", QemuCompatible = true });
            await migration.Finished.WaitAsync(Bound);

            Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.ErrorDesc}");
            await qemu.WaitIncomingDoneAsync();
            foreach (var (address, length) in QemuExportTests.Places)
            {
                Assert.Equal(QemuStreams.Pattern(address, length), await qemu.ReadAsync(address, length));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Outgoing_Q35WithPcDimmToQemuOverTcp_QemuReadsMainRamAndDimmBytes()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        var vm = emulator.CreateVm(new VmDefinition("q35", host, "q35", 512 << 20) { Slots = 2, MaxMemBytes = 1L << 30, Start = true });
        vm.AddMemoryBackend("mem1", 128 << 20);
        var dimm = vm.PlugDimm("dimm1", "mem1");
        (long, int)[] places = [(0x3000, 1), (0x1234_5678, 8), (dimm.Address + 0x40, 16), (dimm.Address + 0x7FF_F000, 4096)];
        foreach (var (address, length) in places)
        {
            vm.WriteGuest(address, QemuStreams.Pattern(address, length));
        }

        var uri = $"tcp:127.0.0.1:{FreePort()}";
        await using var qemu = await QemuProcess.StartQ35WithDimmAsync("-incoming", uri);
        Assert.Equal(dimm.Address, (await qemu.QmpAsync("query-memory-devices"))!.AsArray().Single()!["data"]!["addr"]!.GetValue<long>());
        await using var engine = new MigrationEngine(emulator);
        var migration = engine.Start(new MigrationRequest("q35") { Uri = uri, QemuCompatible = true });
        await migration.Finished.WaitAsync(Bound);

        Assert.True(migration.Status == MigrationStatus.Completed, $"{migration.Status}: {migration.ErrorDesc}");
        await qemu.WaitIncomingDoneAsync();
        foreach (var (address, length) in places)
        {
            Assert.Equal(QemuStreams.Pattern(address, length), await qemu.ReadAsync(address, length));
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
