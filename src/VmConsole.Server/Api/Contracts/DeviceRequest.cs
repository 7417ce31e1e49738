namespace VmConsole.Server.Api;

public sealed record DeviceRequest(string? Driver, string? Id, string? Memdev);
