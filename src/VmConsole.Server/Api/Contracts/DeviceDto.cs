namespace VmConsole.Server.Api;

public sealed record DeviceDto(string Id, string Driver, string Memdev, int Slot, long Address, long Size);
