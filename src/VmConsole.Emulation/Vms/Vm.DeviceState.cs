namespace VmConsole.Emulation.Vms;

public sealed partial class Vm
{
    // Written by the import or migration that brought the VM and by a restore (a single reference to an immutable
    // object, published whole: volatile), read by anyone.
    private volatile DeviceState? _deviceState;

    /// <summary>
    /// The CPU and device state QEMU sent with this VM, kept verbatim to be sent back when it goes to QEMU; null for a
    /// VM made here (QEMU boots such a VM from reset).
    /// </summary>
    public DeviceState? DeviceState => _deviceState;

    /// <summary>Keeps <paramref name="state"/> (null: none) as the VM's device state.</summary>
    public void SetDeviceState(DeviceState? state)
    {
        if (ReferenceEquals(_deviceState, state))
        {
            return;
        }

        _deviceState = state;
        Raise(VmChangeKind.Devices);
    }
}
