namespace VmConsole.Server.Api;

// Requests (this one and every other *Request in this folder): every field nullable, so that a missing field is a validation error naming it, not a 500.
/// <param name="Guest">On a QEMU host, what the VM runs: <c>none</c> (firmware only) or <c>sweep</c>.</param>
public sealed record CreateVmRequest(string? Name, string? Host, string? Machine, long? MemoryMiB, WorkloadRequest? Workload, int? Slots, long? MaxMemMiB, bool? Start, string? Guest = null);
