namespace VmConsole.Emulation.Vms;

/// <summary>A memory device plugged into a VM (device_add pc-dimm,id=ID,memdev=BACKEND).</summary>
public sealed record MemoryDevice(string Id, string Driver, string Memdev, int Slot, long Address, long Size);
