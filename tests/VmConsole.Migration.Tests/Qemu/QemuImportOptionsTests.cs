using VmConsole.Migration.Qemu;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>
/// Stream files QEMU 7.2 writes (migrate exec:cat &gt; FILE) with options that change the stream, imported with the
/// source's memory. Not return-path or postcopy-ram: with them QEMU waits for the SHUT a file never answers, and its
/// migration to a file stays active.
/// </summary>
public sealed class QemuImportOptionsTests
{
    [Theory]
    [InlineData("compress")]
    [InlineData("x-ignore-shared")]
    [InlineData("validate-uuid")]
    public async Task Import_FileFromSourceWithCapability_TheSourcesMemory(string capability)
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        await using var qemu = await QemuProcess.StartMicrovmAsync();
        await QemuLiveOptionsTests.FillAsync(qemu);
        await QemuLiveOptionsTests.SetCapabilitiesAsync(qemu, capability);
        var path = Path.Combine(qemu.Directory, "options.mig");
        await QemuStreams.SaveAsync(qemu, path);

        await using (var file = File.OpenRead(path))
        {
            await new QemuStreamImport(emulator).ImportAsync("imported", host, new QemuStreams.ForwardOnly(file));
        }

        await QemuLiveOptionsTests.AssertSameMemoryAsync(qemu, emulator.GetVm("imported"));
    }
}
