namespace VmConsole.Server.Api;

public sealed record HostDto(string Name, long MemoryBytes, long ReservedBytes, long FreeBytes, int VmCount);
