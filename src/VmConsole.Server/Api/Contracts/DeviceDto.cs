namespace VmConsole.Server.Api;

/// <param name="UnplugPending">A <c>device_del</c> was sent and QEMU waits for the guest to release the device.</param>
public sealed record DeviceDto(string Id, string Driver, string Memdev, int Slot, long? Address, long Size, bool UnplugPending = false);
