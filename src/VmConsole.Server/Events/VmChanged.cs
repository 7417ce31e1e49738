using VmConsole.Emulation.Drivers;

namespace VmConsole.Server.Events;

/// <summary>
/// One or more changes of <paramref name="Vm"/> since the last such event was taken: a burst is one event, and its
/// readers read the VM's state when they get to it (the latest).
/// </summary>
/// <param name="Definition">Something the stored definition holds changed (anything but the freeze).</param>
/// <param name="Blocks">Its RAM blocks or memory devices changed.</param>
public sealed record VmChanged(IVirtualMachine Vm, bool Definition, bool Blocks) : ConsoleEvent;
