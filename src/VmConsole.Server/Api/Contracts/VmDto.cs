namespace VmConsole.Server.Api;

/// <param name="Workload">An emulated VM's workload; null for a QEMU VM, whose guest program changes its memory.</param>
/// <param name="Driver"><c>emulator</c> or <c>qemu</c>.</param>
/// <param name="StateReason">Why it is in its state, when the driver says more (how a QEMU process ended).</param>
/// <param name="Features">What its driver can do beyond power, blocks and devices (<c>workload</c>, <c>process</c>...).</param>
/// <param name="Process">A QEMU VM's process: pid, QEMU version, command line, runtime directory.</param>
/// <param name="Guest">A QEMU VM's guest program: <c>none</c> or <c>sweep</c>.</param>
/// <param name="MainRamBackend">The memory backend holding main RAM (<c>-machine memory-backend=ID</c>); null for the machine's own block or NUMA.</param>
/// <param name="NumaNodes">The NUMA nodes with their memdevs, in the guest's order; empty without NUMA.</param>
public sealed record VmDto(
    Guid Id, string Name, string Host, string Machine, string RunState, long MemoryBytes, int Slots, long MaxMemBytes,
    WorkloadDto? Workload, string? ActiveMigrationId, string Driver = "emulator", string? StateReason = null,
    IReadOnlyList<string>? Features = null, VmProcessDto? Process = null, string? Guest = null,
    string? MainRamBackend = null, IReadOnlyList<NumaNodeDto>? NumaNodes = null);

/// <summary>A NUMA node of a VM: the memory backend holding its RAM, and its size.</summary>
public sealed record NumaNodeDto(string Memdev, long SizeBytes);

/// <summary>The process behind a QEMU VM, as Proxmox's "Show command" shows it.</summary>
public sealed record VmProcessDto(int Pid, string QemuVersion, IReadOnlyList<string> CommandLine, string RuntimeDirectory);
