namespace VmConsole.Server.Api;

public sealed record VmDto(
    Guid Id, string Name, string Host, string Machine, string RunState, long MemoryBytes, int Slots, long MaxMemBytes,
    WorkloadDto Workload, string? ActiveMigrationId);
