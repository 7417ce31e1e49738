using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Driver;

/// <summary>How a QEMU host is configured: its name, its memory, the QEMU binary it runs and its runtime directory.</summary>
/// <param name="Binary">A path, or a name looked up on PATH (default <c>qemu-system-x86_64</c>).</param>
/// <param name="RuntimeDirectory">Where its VMs' monitor sockets, pid files, guest images and definitions live (mode 0700).</param>
public sealed record QemuHostConfig(string Name, long CapacityBytes, string Binary, string RuntimeDirectory);

/// <summary>
/// A host whose VMs are real QEMU processes on this machine (loopback only: several QEMU hosts on one machine are how
/// migrations between hosts run here). Unavailable, with the reason, when its QEMU binary is not there.
/// </summary>
public sealed class QemuHost : IVmHost
{
    private readonly Func<long> _reserved;

    internal QemuHost(QemuHostConfig config, Func<long> reserved, TimeProvider time)
    {
        Names.ValidateName(config.Name, "host");
        if (config.CapacityBytes <= 0)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidCapacity, $"Host memory capacity must be greater than zero; got {config.CapacityBytes}.");
        }

        Name = config.Name;
        CapacityBytes = config.CapacityBytes;
        RuntimeDirectory = Path.GetFullPath(config.RuntimeDirectory);
        _reserved = reserved;
        var binary = QemuLauncher.FindBinary(config.Binary);
        if (binary is null)
        {
            UnavailableReason = $"{config.Binary} was not found on this machine; install QEMU (Debian: apt-get install qemu-system-x86) and restart the console.";
        }
        else
        {
            Launcher = new QemuLauncher(binary, time);
        }
    }

    public string Name { get; }

    public DriverKind Driver => DriverKind.Qemu;

    public long CapacityBytes { get; }

    public long ReservedBytes => _reserved();

    public string? UnavailableReason { get; }

    /// <summary>Where this host keeps its VMs' directories.</summary>
    public string RuntimeDirectory { get; }

    /// <summary>Starts and attaches its QEMU processes; null while it is unavailable.</summary>
    public QemuLauncher? Launcher { get; }

    /// <summary>The directory of one VM's process: its monitor socket, pid file, guest image and definition.</summary>
    public string VmDirectory(string vmName) => Path.Combine(RuntimeDirectory, "vms", vmName);

    /// <exception cref="DomainException">409 <c>host-unavailable</c> with the reason.</exception>
    public QemuLauncher RequireLauncher() =>
        Launcher ?? throw DomainException.Conflict(ErrorCodes.HostUnavailable, $"Host '{Name}' cannot run VMs: {UnavailableReason}");

    public override string ToString() => Name;
}
