using System.Globalization;
using VmConsole.Emulation;

namespace VmConsole.Qemu.Processes;

/// <summary>
/// The arguments a QEMU VM is started with, as a list (never through a shell), from a validated
/// <see cref="QemuVmSpec"/>: <c>-name</c>, machine and memory, backends and pc-dimms, no default devices or display,
/// the QMP monitor as a unix socket in the VM's runtime directory, and <c>-daemonize</c> with a pid file, so that the
/// guest outlives the console (as under libvirt and Proxmox).
/// </summary>
public static class QemuCommandLine
{
    public const string MonitorFile = "qmp.sock";

    public const string PidFile = "qemu.pid";

    /// <summary>The guest program's image, written into the runtime directory by the launcher.</summary>
    public const string GuestImageFile = "sweep.bin";

    /// <exception cref="DomainException">The spec is not valid (see <see cref="QemuVmSpec.Validate"/>).</exception>
    public static IReadOnlyList<string> Build(QemuVmSpec spec, string runtimeDirectory)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var args = new List<string> { "-name", spec.Name, "-M", spec.Machine, "-m", Memory(spec) };
        foreach (var backend in spec.Backends)
        {
            args.AddRange(["-object", $"memory-backend-ram,id={backend.Id},size={Mib(backend.SizeBytes)}M"]);
        }

        foreach (var backend in spec.Backends.Where(b => b.DimmId is not null))
        {
            args.AddRange(["-device", $"pc-dimm,id={backend.DimmId},memdev={backend.Id}"]);
        }

        if (spec.Guest is not null)
        {
            args.AddRange(["-kernel", Path.Combine(runtimeDirectory, GuestImageFile)]);
        }

        args.AddRange(["-nodefaults", "-display", "none"]);
        if (spec.Paused)
        {
            args.Add("-S");
        }

        if (spec.Incoming)
        {
            args.AddRange(["-incoming", "defer"]);
        }

        args.AddRange([
            "-qmp", $"unix:{Path.Combine(runtimeDirectory, MonitorFile)},server=on,wait=off",
            "-daemonize", "-pidfile", Path.Combine(runtimeDirectory, PidFile),
        ]);
        return args;
    }

    private static string Memory(QemuVmSpec spec) => spec.Slots > 0
        ? $"{Mib(spec.MemoryBytes)}M,slots={spec.Slots.ToString(CultureInfo.InvariantCulture)},maxmem={Mib(spec.MaxMemBytes)}M"
        : $"{Mib(spec.MemoryBytes)}M";

    private static string Mib(long bytes) => (bytes / Sizes.MiB).ToString(CultureInfo.InvariantCulture);
}
