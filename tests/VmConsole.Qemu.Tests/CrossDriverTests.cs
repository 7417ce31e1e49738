using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

/// <summary>
/// What the tests of migrations between the drivers stand on, against real QEMU 7.2: an emulator with host
/// <c>ehost-a</c>, its engine, a QEMU driver with host <c>qhost-a</c> under a directory of the test's own, and the
/// migrations between them. Every process started under that directory is killed at the end, even when a test fails.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public abstract class CrossDriverTests : IAsyncLifetime
{
    protected CrossDriverTests()
    {
        Emulator.AddHost("ehost-a", 4 * Sizes.GiB);
        Engine = new MigrationEngine(Emulator);
        Driver = new QemuDriver([new QemuHostConfig("qhost-a", 4 * Sizes.GiB, QemuLauncher.DefaultBinary, Path.Combine(RuntimeDirectory, "a"))], TimeSpan.FromSeconds(10));
        Cross = new CrossDriverMigrations(Emulator, Engine, Driver);
    }

    protected static TimeSpan Bound { get; } = TimeSpan.FromMinutes(2);

    protected string RuntimeDirectory { get; } = QemuProcess.TempDirectory();

    protected Emulator Emulator { get; } = new();

    protected MigrationEngine Engine { get; }

    protected QemuDriver Driver { get; }

    protected CrossDriverMigrations Cross { get; }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await QemuProcess.KillAllUnderAsync(RuntimeDirectory);
        await Engine.DisposeAsync();
        await Driver.DisposeAsync();
        Emulator.Dispose();
        Directory.Delete(RuntimeDirectory, recursive: true);
    }
}
