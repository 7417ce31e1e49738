using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// The version range QEMU 7.2 loads for each device section its x86 machines (microvm, q35, pc) write: the vmsd's
/// <c>version_id</c> and <c>minimum_version_id</c>. A section VmConsole steps over must still be one QEMU 7.2 would
/// load, since it goes back to QEMU unchanged. Values from QEMU 7.2's sources (checked against
/// <c>qemu-system-x86_64 -dump-vmstate</c> of Debian's 7.2.22); a section not listed here is not checked.
/// </summary>
public static class QemuDeviceVersions
{
    /// <summary>By vmsd name: a section's idstr is its device path, '/', then this name (or the name alone).</summary>
    private static readonly Dictionary<string, (uint VersionId, uint MinimumVersionId)> Vmsds = new(StringComparer.Ordinal)
    {
        ["timer"] = (2, 1),                 // softmmu/cpu-timers.c vmstate_timers
        ["cpu_common"] = (1, 1),            // cpu.c vmstate_cpu_common
        ["cpu"] = (12, 11),                 // target/i386/machine.c vmstate_x86_cpu
        ["apic"] = (3, 3),                  // hw/intc/apic_common.c vmstate_apic_common
        ["kvm-tpr-opt"] = (1, 1),           // hw/i386/kvmvapic.c vmstate_vapic
        ["globalstate"] = (1, 1),           // migration/global_state.c
        ["fw_cfg"] = (2, 1),                // hw/nvram/fw_cfg.c vmstate_fw_cfg
        ["acpi_build"] = (1, 1),            // hw/i386/acpi-build.c
        ["acpi-ged"] = (1, 1),              // hw/acpi/generic_event_device.c
        ["ioapic"] = (3, 1),                // hw/intc/ioapic_common.c
        ["i8259"] = (1, 1),                 // hw/intc/i8259_common.c
        ["i8254"] = (3, 2),                 // hw/timer/i8254_common.c
        ["mc146818rtc"] = (3, 1),           // hw/rtc/mc146818rtc.c
        ["hpet"] = (2, 1),                  // hw/timer/hpet.c
        ["port92"] = (1, 1),                // hw/i386/port92.c
        ["pcspk"] = (1, 1),                 // hw/audio/pcspk.c
        ["dma"] = (1, 1),                   // hw/dma/i8257.c
        ["fdc"] = (2, 2),                   // hw/block/fdc-isa.c
        ["pckbd"] = (3, 3),                 // hw/input/pckbd.c
        ["ps2kbd"] = (3, 2),                // hw/input/ps2.c
        ["ps2mouse"] = (2, 2),              // hw/input/ps2.c
        ["vmmouse"] = (0, 0),               // hw/i386/vmmouse.c
        ["PCIBUS"] = (1, 1),                // hw/pci/pci.c vmstate_pcibus
        ["PCIHost"] = (1, 1),               // hw/pci/pci_host.c
        ["i2c_bus"] = (1, 1),               // hw/i2c/core.c
        ["mch"] = (1, 1),                   // hw/pci-host/q35.c
        ["ICH9LPC"] = (1, 1),               // hw/isa/lpc_ich9.c
        ["ich9_ahci"] = (1, 0),             // hw/ide/ich.c
        ["ich9_smb"] = (1, 1),              // hw/i2c/smbus_ich9.c
        ["I440FX"] = (3, 3),                // hw/pci-host/i440fx.c
        ["PIIX3"] = (3, 2),                 // hw/isa/piix3.c
        ["ide"] = (3, 0),                   // hw/ide/pci.c vmstate_ide_pci
        ["piix4_pm"] = (3, 3),              // hw/acpi/piix4.c
    };

    /// <summary>
    /// Refuses a device section QEMU 7.2 would not load, in its words: a version above the local one
    /// (savevm.c <c>qemu_loadvm_section_start_full</c>), or below the vmsd's minimum (vmstate.c <c>vmstate_load_state</c>).
    /// </summary>
    /// <exception cref="MigrationStreamException">The version is outside what QEMU 7.2 loads for that section.</exception>
    public static void Check(string idStr, uint versionId)
    {
        ArgumentNullException.ThrowIfNull(idStr);
        var vmsd = idStr[(idStr.LastIndexOf('/') + 1)..];
        if (!Vmsds.TryGetValue(vmsd, out var local))
        {
            return;
        }

        if (versionId > local.VersionId)
        {
            throw new MigrationStreamException($"savevm: unsupported version {versionId} for '{idStr}' v{local.VersionId}");
        }

        if (versionId < local.MinimumVersionId)
        {
            // Two spaces before the number, as QEMU 7.2 prints it.
            throw new MigrationStreamException($"{vmsd}: incoming version_id {versionId} is too old for local minimum version_id  {local.MinimumVersionId}");
        }
    }
}
