using VmConsole.Emulation;

namespace VmConsole.Server.Events;

/// <summary>A VM was created, moved, removed, or is arriving from QEMU.</summary>
public sealed record InventoryChanged(InventoryChangeKind Kind, string Name) : ConsoleEvent;
