using VmConsole.Emulation.Vms;
using VmConsole.Migration.Qemu;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>Streams VmConsole writes, loaded by the real QEMU 7.2 (-incoming defer, migrate-incoming exec:cat FILE).</summary>
public sealed class QemuExportTests
{
    internal static readonly (long Address, int Length)[] Places = [(0x1000, 1), (0x23_4567, 8), (0x80_0ff8, 16), (0xFF_F000, 4096)];

    [Fact]
    public async Task Export_MicrovmStream_QemuLoadsItAndReadsTheBytesBack()
    {
        var directory = QemuProcess.TempDirectory();
        try
        {
            using var emulator = QemuStreams.NewEmulator(out var host);
            var vm = emulator.CreateVm(new VmDefinition("vm1", host, "microvm", 16 << 20) { Start = true });
            foreach (var (address, length) in Places)
            {
                vm.WriteGuest(address, QemuStreams.Pattern(address, length));
            }

            var path = Path.Combine(directory, "export.mig");
            QemuExportResult result;
            await using (var file = File.Create(path))
            {
                result = await QemuStreamExport.ExportAsync(vm, file);
            }

            Assert.Equal(new FileInfo(path).Length, result.BytesWritten);
            Assert.Equal(RunState.Running, vm.RunState);
            Assert.False(vm.Freeze.IsFrozen);

            await using var qemu = await QemuProcess.StartMicrovmAsync("-incoming", "defer");
            await qemu.QmpAsync("migrate-incoming", new { uri = $"exec:cat {path}" });
            await qemu.WaitIncomingDoneAsync();
            foreach (var (address, length) in Places)
            {
                Assert.Equal(QemuStreams.Pattern(address, length), await qemu.ReadAsync(address, length));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
