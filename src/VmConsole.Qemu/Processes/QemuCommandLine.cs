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
        var args = new List<string> { "-name", spec.Name };
        args.AddRange(Layout(spec));
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

    /// <summary>
    /// The arguments that make the VM's RAM layout, and only those: <c>-M</c> (with <c>memory-backend=ID</c>), <c>-m</c>,
    /// the memory backends (main RAM's, the NUMA memdevs, the others), <c>-numa node,memdev=</c> and the pc-dimms. A QEMU
    /// started with them has the same migratable blocks as the VM they were built for.
    /// </summary>
    public static IReadOnlyList<string> Layout(QemuVmSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var machine = spec.MainRamBackend is null ? spec.Machine : $"{spec.Machine},memory-backend={spec.MainRamBackend}";
        var args = new List<string> { "-M", machine, "-m", Memory(spec) };
        if (spec.MainRamBackend is not null)
        {
            args.AddRange(["-object", $"memory-backend-ram,id={spec.MainRamBackend},size={Mib(spec.MemoryBytes)}M"]);
        }

        foreach (var node in spec.NumaNodes)
        {
            args.AddRange(["-object", $"memory-backend-ram,id={node.Memdev},size={Mib(node.SizeBytes)}M"]);
        }

        foreach (var backend in spec.Backends)
        {
            args.AddRange(["-object", $"memory-backend-ram,id={backend.Id},size={Mib(backend.SizeBytes)}M"]);
        }

        foreach (var node in spec.NumaNodes)
        {
            args.AddRange(["-numa", $"node,memdev={node.Memdev}"]);
        }

        foreach (var backend in spec.Backends.Where(b => b.DimmId is not null))
        {
            args.AddRange(["-device", $"pc-dimm,id={backend.DimmId},memdev={backend.Id}"]);
        }

        return args;
    }

    private static string Memory(QemuVmSpec spec) => spec.Slots > 0
        ? $"{Mib(spec.MemoryBytes)}M,slots={spec.Slots.ToString(CultureInfo.InvariantCulture)},maxmem={Mib(spec.MaxMemBytes)}M"
        : $"{Mib(spec.MemoryBytes)}M";

    private static string Mib(long bytes) => (bytes / Sizes.MiB).ToString(CultureInfo.InvariantCulture);
}
