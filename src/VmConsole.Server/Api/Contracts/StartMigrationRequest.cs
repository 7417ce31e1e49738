namespace VmConsole.Server.Api;

public sealed record StartMigrationRequest(string? Vm, string? DestinationHost, string? Uri, MigrationParametersRequest? Parameters, MigrationCapabilitiesRequest? Capabilities, bool? QemuCompatible);
