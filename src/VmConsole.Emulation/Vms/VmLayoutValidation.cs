using VmConsole.Emulation.Machines;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Vms;

/// <summary>
/// Checks a definition's RAM layout as QEMU 7.2 checks its command line: the main RAM backend
/// (<c>-machine memory-backend=ID</c>) and the NUMA nodes' memdevs (<c>-numa node,memdev=ID</c>).
/// </summary>
internal static class VmLayoutValidation
{
    /// <summary>QEMU's MAX_NODES.</summary>
    public const int MaxNumaNodes = 128;

    /// <exception cref="DomainException">400 naming the field: mainRamBackend, numaNodes or numaNodes[i].memdev/sizeBytes.</exception>
    public static void Validate(VmDefinition definition, MachinePreset machine)
    {
        var nodes = definition.NumaNodes ?? [];
        if (definition.MainRamBackend is { } backend)
        {
            ValidateId(backend, machine, "mainRamBackend", "main RAM backend");
            if (nodes.Count > 0)
            {
                throw DomainException.Invalid(
                    ErrorCodes.InvalidParameter,
                    "'-machine memory-backend' and '-numa memdev' properties are mutually exclusive: give either a main RAM backend or NUMA nodes.",
                    "numaNodes");
            }
        }

        if (nodes.Count == 0)
        {
            return;
        }

        if (nodes.Count > MaxNumaNodes)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidParameter, $"A VM has at most {MaxNumaNodes} NUMA nodes; got {nodes.Count}.", "numaNodes");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i] ?? throw DomainException.Invalid(ErrorCodes.InvalidParameter, $"NUMA node {i} is empty.", $"numaNodes[{i}]");
            ValidateId(node.Memdev, machine, $"numaNodes[{i}].memdev", $"NUMA node {i}'s memdev");
            if (!seen.Add(node.Memdev))
            {
                throw DomainException.Invalid(ErrorCodes.DuplicateIdstr, $"NUMA nodes {nodes.ToList().FindIndex(n => n?.Memdev == node.Memdev)} and {i} use the same memdev '{node.Memdev}'; each node needs its own.", $"numaNodes[{i}].memdev");
            }

            if (node.SizeBytes <= 0 || node.SizeBytes % MiB != 0 || node.SizeBytes > Vm.MaxMemoryBytes)
            {
                throw DomainException.Invalid(ErrorCodes.InvalidMemorySize, $"NUMA node {i} ('{node.Memdev}') must be a whole number of MiB between 1 MiB and {Format(Vm.MaxMemoryBytes)}; got {node.SizeBytes} bytes.", $"numaNodes[{i}].sizeBytes");
            }
        }

        var total = nodes.Sum(n => n.SizeBytes);
        if (total != definition.MemoryBytes)
        {
            throw DomainException.Invalid(
                ErrorCodes.InvalidMemorySize,
                $"total memory for NUMA nodes (0x{total:x}) should equal RAM size (0x{definition.MemoryBytes:x}): the nodes add up to {Format(total)}, the VM has {Format(definition.MemoryBytes)}.",
                "numaNodes");
        }
    }

    private static void ValidateId(string? id, MachinePreset machine, string field, string what)
    {
        if (!Names.IsValidQemuId(id))
        {
            throw DomainException.Invalid(
                ErrorCodes.InvalidId,
                $"'{Names.Shorten(id)}' is not a valid {what} id: start with a letter, then letters, digits, '-', '.' or '_', at most 63 characters.",
                field);
        }

        if (machine.Firmware.Any(f => f.IdStr == id))
        {
            throw DomainException.Invalid(ErrorCodes.DuplicateIdstr, $"'{id}' is the name of a {machine.Name} firmware block; choose another {what} id.", field);
        }
    }
}
