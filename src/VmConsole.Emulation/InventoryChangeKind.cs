namespace VmConsole.Emulation;

/// <summary>What changed in the emulator's inventory.</summary>
public enum InventoryChangeKind
{
    HostAdded,
    VmAdded,
    VmRemoved,

    /// <summary>A migration completed: the name now belongs to the VM on the destination host.</summary>
    VmMoved,

    /// <summary>
    /// A VM is arriving from outside the server under this name (listed in <c>inmigrate</c>, see <see cref="Emulator.Arriving"/>),
    /// or what is known of it changed (the stream's RAM setup made its blocks). It ends with <see cref="VmAdded"/> or <see cref="VmRemoved"/>.
    /// </summary>
    VmArriving,
}
