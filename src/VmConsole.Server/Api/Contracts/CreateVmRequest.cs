namespace VmConsole.Server.Api;

// Requests (this one and every other *Request in this folder): every field nullable, so that a missing field is a validation error naming it, not a 500.
/// <param name="Guest">On a QEMU host, what the VM runs: <c>none</c> (firmware only) or <c>sweep</c>.</param>
/// <param name="MainRamBackend">The memory backend that holds main RAM (QEMU's <c>-machine memory-backend=ID</c>): its RAM block is named ID.</param>
/// <param name="NumaNodes">NUMA nodes, each on its own memdev (<c>-numa node,memdev=ID</c>); their sizes add up to memoryMiB.</param>
public sealed record CreateVmRequest(
    string? Name, string? Host, string? Machine, long? MemoryMiB, WorkloadRequest? Workload, int? Slots, long? MaxMemMiB, bool? Start, string? Guest = null,
    string? MainRamBackend = null, IReadOnlyList<NumaNodeRequest?>? NumaNodes = null);

/// <summary>A NUMA node of a VM being created: the id of its memory backend (its RAM block's idstr) and its size.</summary>
public sealed record NumaNodeRequest(string? Memdev, long? SizeMiB);
