using VmConsole.Emulation;
using VmConsole.Emulation.Vms;

namespace VmConsole.Qemu.Processes;

/// <summary>
/// What a QEMU VM is made of, as the console starts it: its name (also QEMU's <c>-name</c>, so that <c>ps</c> shows
/// the guest), machine, memory with its DIMM slots, and memory backends with their pc-dimms.
/// </summary>
public sealed record QemuVmSpec(string Name, string Machine, long MemoryBytes)
{
    /// <summary>The machines the console starts: <c>pc</c> and <c>q35</c> (hotplug-capable), <c>microvm</c> (no DIMMs).</summary>
    public static readonly IReadOnlySet<string> Machines = new HashSet<string>(StringComparer.Ordinal) { "pc", "q35", "microvm" };

    public int Slots { get; init; }

    public long MaxMemBytes { get; init; }

    public IReadOnlyList<QemuMemoryBackend> Backends { get; init; } = [];

    /// <summary>The backend that holds main RAM (<c>-machine memory-backend=ID</c>, its block is named ID); null: the machine's own.</summary>
    public string? MainRamBackend { get; init; }

    /// <summary>NUMA nodes, each on its own memdev (<c>-numa node,memdev=ID</c>); their sizes add up to the memory. Empty: no NUMA.</summary>
    public IReadOnlyList<NumaNode> NumaNodes { get; init; } = [];

    /// <summary>The guest program: none (firmware only), or the project's sweep guest.</summary>
    public Guests.SweepGuest? Guest { get; init; }

    /// <summary>Start as a migration's destination: <c>-incoming defer</c>, waiting for <c>migrate-incoming</c>.</summary>
    public bool Incoming { get; init; }

    /// <summary>Start paused (<c>-S</c>), as a migration's destination or a VM created without starting it.</summary>
    public bool Paused { get; init; }

    /// <summary>Checks everything that reaches QEMU's command line: names, ids, sizes, the machine, the slots.</summary>
    /// <exception cref="DomainException">400 with the field at fault.</exception>
    public void Validate()
    {
        Names.ValidateName(Name, "VM name");
        if (!Machines.Contains(Machine))
        {
            throw DomainException.Invalid(ErrorCodes.InvalidMachine, $"Machine '{Names.Shorten(Machine)}' is not one the console starts: pc, q35 or microvm.", "machine");
        }

        if (MemoryBytes < Sizes.MiB || MemoryBytes % Sizes.MiB != 0)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidMemorySize, $"Memory must be a whole number of MiB, at least 1 MiB; got {MemoryBytes} bytes.", "memoryMiB");
        }

        if (Slots is < 0 or > 256 || (Slots > 0 && (MaxMemBytes < MemoryBytes || MaxMemBytes % Sizes.MiB != 0)) || (Slots == 0 && MaxMemBytes != 0))
        {
            throw DomainException.Invalid(ErrorCodes.InvalidSlots, "Slots are 0 to 256, and with slots maxmem is a whole number of MiB at least the memory (without slots, no maxmem).", "slots");
        }

        if (Machine == "microvm" && (Slots > 0 || Backends.Any(b => b.DimmId is not null)))
        {
            throw DomainException.Invalid(ErrorCodes.HotplugUnsupported, "A microvm has no DIMM slots: use pc or q35 for memory devices.", "slots");
        }

        if (Guest is not null)
        {
            if (Machine == "microvm")
            {
                throw DomainException.Invalid(ErrorCodes.InvalidMachine, "The sweep guest boots on pc and q35 (multiboot), not on microvm.", "guest");
            }

            Guest.Validate(MemoryBytes);
        }

        ValidateLayout();
        var ids = new HashSet<string>(MainRamIds(), StringComparer.Ordinal);
        foreach (var backend in Backends)
        {
            Names.ValidateQemuId(backend.Id, "backend id");
            if (backend.DimmId is not null)
            {
                Names.ValidateQemuId(backend.DimmId, "device id");
            }

            if (!ids.Add(backend.Id) || (backend.DimmId is not null && !ids.Add(backend.DimmId)) || backend.Id is "pc.ram")
            {
                throw DomainException.Invalid(ErrorCodes.BackendExists, $"Id '{backend.Id}' is used twice (or is QEMU's own pc.ram).", "backends");
            }

            if (backend.SizeBytes < Sizes.MiB || backend.SizeBytes % Sizes.MiB != 0)
            {
                throw DomainException.Invalid(ErrorCodes.InvalidSize, $"Backend '{backend.Id}' must be a whole number of MiB, at least 1 MiB.", "backends");
            }
        }

        var dimms = Backends.Where(b => b.DimmId is not null).ToList();
        if (dimms.Count > Slots || MemoryBytes + dimms.Sum(b => b.SizeBytes) > Math.Max(MaxMemBytes, MemoryBytes))
        {
            throw DomainException.Invalid(ErrorCodes.NoFreeSlot, $"{dimms.Count} DIMM(s) of {dimms.Sum(b => b.SizeBytes) / Sizes.MiB} MiB do not fit in {Slots} slot(s) and maxmem {MaxMemBytes / Sizes.MiB} MiB.", "backends");
        }
    }

    /// <summary>The backend ids that hold main RAM: the memory-backend, or the NUMA memdevs.</summary>
    private IEnumerable<string> MainRamIds() => MainRamBackend is null ? NumaNodes.Select(n => n.Memdev) : [MainRamBackend];

    /// <summary>The main RAM backend and NUMA memdevs, with QEMU's own checks of them.</summary>
    private void ValidateLayout()
    {
        if (MainRamBackend is not null)
        {
            Names.ValidateQemuId(MainRamBackend, "main RAM backend");
            if (NumaNodes.Count > 0)
            {
                throw DomainException.Invalid(ErrorCodes.InvalidParameter, "'-machine memory-backend' and '-numa memdev' properties are mutually exclusive.", "numaNodes");
            }
        }

        if (NumaNodes.Count == 0)
        {
            return;
        }

        var memdevs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in NumaNodes)
        {
            Names.ValidateQemuId(node.Memdev, "NUMA memdev");
            if (!memdevs.Add(node.Memdev))
            {
                throw DomainException.Invalid(ErrorCodes.DuplicateIdstr, $"NUMA memdev '{node.Memdev}' is used by two nodes.", "numaNodes");
            }

            if (node.SizeBytes < Sizes.MiB || node.SizeBytes % Sizes.MiB != 0)
            {
                throw DomainException.Invalid(ErrorCodes.InvalidMemorySize, $"NUMA memdev '{node.Memdev}' must be a whole number of MiB, at least 1 MiB.", "numaNodes");
            }
        }

        if (NumaNodes.Sum(n => n.SizeBytes) is var total && total != MemoryBytes)
        {
            throw DomainException.Invalid(
                ErrorCodes.InvalidMemorySize, $"total memory for NUMA nodes (0x{total:x}) should equal RAM size (0x{MemoryBytes:x})", "numaNodes");
        }
    }
}
