using VmConsole.Emulation.Machines;
using VmConsole.Migration.Qemu;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>Streams written by the real QEMU 7.2 (migrate to exec:cat &gt; FILE) imported into VmConsole.</summary>
public sealed class QemuImportTests
{
    private static readonly (long Address, int Length)[] MicrovmPlaces = [(0x1000, 1), (0x23_4567, 8), (0x80_0ff8, 16), (0xFF_F000, 4096)];

    [Fact]
    public async Task Import_MicrovmFileFromQemu_BytesAtTheSameGuestAddresses()
    {
        var path = Path.Combine(QemuProcess.TempDirectory(), "micro.mig");
        try
        {
            await using (var qemu = await QemuProcess.StartMicrovmAsync())
            {
                await QemuStreams.WriteAsync(qemu, MicrovmPlaces);
                await QemuStreams.SaveAsync(qemu, path);
            }

            using var emulator = QemuStreams.NewEmulator(out var host);
            var reports = new List<QemuImportProgress>();
            await using var file = File.OpenRead(path);
            var result = await new QemuStreamImport(emulator).ImportAsync("imported", host, file, new SyncProgress(reports));

            var vm = emulator.GetVm("imported");
            Assert.Same(vm, result.Vm);
            Assert.Equal(MachinePreset.Microvm, vm.Machine);
            Assert.Equal("microvm", result.MachineType);
            Assert.Equal(16L << 20, vm.MemoryBytes);
            // The source QEMU never ran (-S): its globalstate says prelaunch, so the VM arrives paused, as in a QEMU destination.
            Assert.Equal(Emulation.Vms.RunState.Paused, vm.RunState);
            Assert.Equal(["microvm.ram", "/rom@etc/acpi/tables", "pc.bios", "/rom@etc/table-loader", "/rom@etc/acpi/rsdp"], result.Blocks.Select(b => b.IdStr));
            foreach (var (address, length) in MicrovmPlaces)
            {
                var read = new byte[length];
                vm.ReadGuest(address, read);
                Assert.Equal(QemuStreams.Pattern(address, length), read);
            }

            Assert.Contains(result.DeviceState!.Sections, s => s is { IdStr: "cpu", InstanceId: 0 });
            Assert.Contains(result.DeviceState.Sections, s => s is { IdStr: "ioapic", InstanceId: 1 });
            Assert.Same(result.DeviceState, vm.DeviceState);
            Assert.Equal(file.Length, result.BytesRead);
            Assert.Equal(new QemuImportProgress(file.Length, file.Length), reports[^1]);
            Assert.Equal((16L << 20) / 4096, vm.RamBlocks.Single(b => b.IdStr == "microvm.ram").UsedPages);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public async Task Import_Q35WithPcDimmForwardOnly_AllBlocksAndBytesInMainRamAndDimm()
    {
        var path = Path.Combine(QemuProcess.TempDirectory(), "q35.mig");
        try
        {
            long dimmBase;
            (long, int)[] places;
            await using (var qemu = await QemuProcess.StartQ35WithDimmAsync())
            {
                var devices = (await qemu.QmpAsync("query-memory-devices"))!.AsArray();
                dimmBase = devices.Single()!["data"]!["addr"]!.GetValue<long>();
                places = [(0x1000, 1), (0x1234_5678, 8), (0x1FFF_F000, 4096), (dimmBase, 1), (dimmBase + 0x10_0010, 32), (dimmBase + 0x7FF_F000, 4096)];
                await QemuStreams.WriteAsync(qemu, places);
                await QemuStreams.SaveAsync(qemu, path);
            }

            using var emulator = QemuStreams.NewEmulator(out var host);
            await using var file = File.OpenRead(path);
            var result = await new QemuStreamImport(emulator).ImportAsync("q35-imported", host, new QemuStreams.ForwardOnly(file));

            var vm = result.Vm;
            Assert.Equal(MachinePreset.Q35, vm.Machine);
            Assert.Equal("pc-q35-7.2", result.MachineType);
            Assert.Equal(512L << 20, vm.MemoryBytes);
            Assert.Equal(
                ["pc.ram", "mem1", "/rom@etc/acpi/tables", "pc.bios", "pc.rom", "/rom@etc/table-loader", "/rom@etc/acpi/rsdp"],
                result.Blocks.Select(b => b.IdStr));
            foreach (var header in result.Blocks)
            {
                Assert.Equal(header.UsedLength, vm.FindMigratable(header.IdStr)!.UsedLength);
            }

            var dimm = Assert.Single(vm.Devices);
            Assert.Equal("mem1", dimm.Memdev);
            Assert.Equal(dimmBase, dimm.Address);
            var mem1 = vm.FindMigratable("mem1")!;
            Assert.Equal("mem1", mem1.BackendId);
            foreach (var (address, length) in places)
            {
                var read = new byte[length];
                vm.ReadGuest(address, read);
                Assert.Equal(QemuStreams.Pattern(address, length), read);
            }

            var inDimm = new byte[32];
            mem1.Read(0x10_0010, inDimm);
            Assert.Equal(QemuStreams.Pattern(dimmBase + 0x10_0010, 32), inDimm);
            Assert.Contains(result.DeviceState!.Sections, s => s.IdStr == "0000:00:1f.2/ich9_ahci");
            Assert.Equal("globalstate", result.DeviceState.Sections[^1].IdStr);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    /// <summary>Reports on the caller's thread, so the last report is there when the import returns.</summary>
    private sealed class SyncProgress(List<QemuImportProgress> reports) : IProgress<QemuImportProgress>
    {
        public void Report(QemuImportProgress value) => reports.Add(value);
    }
}
