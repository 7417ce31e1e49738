using System.Globalization;
using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Guests;
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

    protected Task ArrivedOnQemu(string name)
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Driver.InventoryChanged += (kind, changed) =>
        {
            if (kind == InventoryChangeKind.VmMoved && changed == name && Driver.IsNameTaken(name))
            {
                arrived.TrySetResult();
            }
        };
        return arrived.Task;
    }

    /// <summary>Guest-physical bytes as QEMU has them: <c>pmemsave</c> into the VM's runtime directory.</summary>
    protected static async Task<byte[]> PhysicalMemoryAsync(QemuDomain domain, long address, int length)
    {
        var vm = domain.Running!;
        var file = Path.Combine(vm.RuntimeDirectory, $"pmem-{address:x}.bin");
        await vm.RunAsync("pmemsave", new Dictionary<string, object> { ["val"] = address, ["size"] = length, ["filename"] = file }, CancellationToken.None);
        var bytes = await File.ReadAllBytesAsync(file);
        File.Delete(file);
        return bytes;
    }

    /// <summary>
    /// A sweep guest (66 MiB range) arrived on emulator host ehost-a whole: the first bytes of its pages show one sweep
    /// position, the lower part of its range only (the firmware leaves its own bytes near the top of RAM).
    /// </summary>
    protected static void AssertSweepWhole(Vm vm)
    {
        Assert.Equal("ehost-a", vm.Host.Name);
        var sweep = new SweepGuest(SweepGuest.LowestStart, 66 * Sizes.MiB);
        var firstBytes = new byte[(sweep.End - sweep.Start) / SweepGuest.PageSize];
        for (var i = 0; i < firstBytes.Length; i++)
        {
            vm.ReadGuest(sweep.Start + (i * SweepGuest.PageSize), firstBytes.AsSpan(i, 1));
        }

        // The first bytes count sweeps modulo 256, so a 0 is a page on its 256th (or 512th...) sweep, not a lost one; a
        // lost page breaks the one-position rule below. Only memory that never arrived at all is zero everywhere.
        Assert.Contains(firstBytes, b => b != 0);
        Assert.True(SweepGuest.Check(firstBytes) is null, SweepGuest.Check(firstBytes) + " runs: " + string.Join(" ", Runs(firstBytes)));
    }

    protected static IEnumerable<string> Runs(byte[] bytes)
    {
        var start = 0;
        for (var i = 1; i <= bytes.Length; i++)
        {
            if (i == bytes.Length || bytes[i] != bytes[start])
            {
                yield return $"{start}-{i - 1}:{bytes[start]}";
                start = i;
            }
        }
    }

    protected static byte[] Pattern(long address, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)(((address + i) * 7 + 13) % 251 + 1);
        }

        return bytes;
    }

    protected static List<int> QemuPidsUnder(string directory)
    {
        var pids = new List<int>();
        foreach (var proc in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline"));
                if (cmdline.Contains(QemuProcess.Binary, StringComparison.Ordinal) && cmdline.Contains(directory + "/", StringComparison.Ordinal))
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
                // Gone meanwhile.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours.
            }
        }

        return pids;
    }
}
