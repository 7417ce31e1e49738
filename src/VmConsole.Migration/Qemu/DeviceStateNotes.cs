using VmConsole.Emulation.Vms;

namespace VmConsole.Migration.Qemu;

/// <summary>The one sentence the API and the UI give about what a VM's stream for QEMU carries besides memory.</summary>
public static class DeviceStateNotes
{
    public const string FromReset =
        "The VM has no CPU or device state (it was made in the console): the stream carries its memory only, and QEMU boots it from reset.";

    public static string For(DeviceState? state) => state is null
        ? FromReset
        : $"The stream carries the VM's CPU and device state as QEMU sent it ({state.Sections.Length} sections, {state.StateBytes} bytes): QEMU goes on where the guest stopped.";
}
