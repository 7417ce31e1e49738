using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

/// <summary>
/// A QEMU VM live-migrated to another QEMU host and straight back, against real QEMU 7.2: the way back starts its
/// destination in a folder of the VM's name on the host the VM just left, while that folder is still being removed.
/// Every process started under this test's directory is killed at the end, even when a test fails.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class QemuRoundTripTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    private readonly string _directory = QemuProcess.TempDirectory();
    private readonly QemuDriver _driver;

    public QemuRoundTripTests()
    {
        _driver = new QemuDriver(
            [
                new QemuHostConfig("qhost-a", 4 * Sizes.GiB, QemuLauncher.DefaultBinary, Path.Combine(_directory, "a")),
                new QemuHostConfig("qhost-b", 4 * Sizes.GiB, QemuLauncher.DefaultBinary, Path.Combine(_directory, "b")),
            ],
            TimeSpan.FromSeconds(10));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await QemuProcess.KillAllUnderAsync(_directory);
        await _driver.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task MigrateThereAndStraightBack_AtOnce_EveryMigrationCompletesAndTheVmRunsInItsFolder()
    {
        var registry = new MigrationRegistry();
        await _driver.CreateVirtualMachineAsync(new VmDefinition("hop-q", "qhost-a", "q35", 32 * Sizes.MiB) { Start = true });
        string[] hosts = ["qhost-b", "qhost-a"];
        for (var hop = 0; hop < 6; hop++)
        {
            var to = hosts[hop % 2];

            // No waiting for the folder the VM left to go: the next migration starts as soon as this one has finished.
            var migration = await _driver.MigrateAsync("hop-q", to, MigrationParameters.Default with { MaxBandwidth = 1L << 30 }, MigrationCapabilities.Default, registry);
            await migration.Finished.WaitAsync(Bound);
            Assert.True(migration.Status == MigrationStatus.Completed, $"hop {hop} to {to}: {migration.Status}: {migration.GetStats().ErrorDesc}");

            var domain = _driver.GetDomain("hop-q");
            var folder = _driver.GetHost(to).VmDirectory("hop-q");
            Assert.Equal(to, domain.HostName);
            Assert.Equal(folder, domain.Running!.RuntimeDirectory);
            Assert.True(File.Exists(Path.Combine(folder, QemuCommandLine.PidFile)), $"hop {hop}: the QEMU the VM runs in has no pid file in its folder");
        }

        // Once the last migration's end is cleaned up, the folder the VM left is gone and its own stays.
        await Eventually.Until(() => !Directory.Exists(_driver.GetHost("qhost-b").VmDirectory("hop-q")), Bound, () => "the folder the VM left stayed");
        Assert.Equal(_driver.GetDomain("hop-q").Id, (await QemuDomainFile.LoadAsync(_driver.GetHost("qhost-a").VmDirectory("hop-q")))?.Id);
    }
}
