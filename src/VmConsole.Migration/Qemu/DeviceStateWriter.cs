using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// The end of a stream for QEMU, after the RAM section's end: a VM's kept device state (<see cref="Vm.DeviceState"/>)
/// as QEMU sent it, each section whole in its order with a fresh section id, then EOF and the description rebuilt from
/// the kept parts, as QEMU 7.2's <c>qemu_savevm_state_complete_precopy</c> ends a stream. Without device state only EOF:
/// QEMU then boots the guest from reset.
/// </summary>
public static class DeviceStateWriter
{
    /// <summary>
    /// Writes the device sections (ids from <paramref name="firstSectionId"/> up), EOF and the description; the
    /// <c>globalstate</c> section says whether the VM was <paramref name="running"/> (<see cref="QemuGlobalState"/>).
    /// </summary>
    public static void WriteEnd(MigrationStreamWriter writer, DeviceState? state, uint firstSectionId, bool running)
    {
        ArgumentNullException.ThrowIfNull(writer);
        state = QemuGlobalState.WithRunState(state, running);
        if (state is null)
        {
            writer.WriteEof();
            return;
        }

        var sectionId = firstSectionId;
        foreach (var section in state.Sections)
        {
            writer.WriteDeviceSection(sectionId++, section.IdStr, section.InstanceId, section.VersionId, section.State.Span);
        }

        writer.WriteEof();
        writer.WriteVmDescription(QemuVmDescription.Rebuild(state));
    }
}
