using System.Collections.Immutable;

namespace VmConsole.Emulation.Vms;

/// <summary>
/// The CPU and device state of a VM that came from QEMU, which VmConsole keeps without modelling it: every device
/// section of the stream (a QEMU_VM_SECTION_FULL other than <c>ram</c>: cpu, timer, apic, fw_cfg, ...) verbatim and in
/// stream order, each with its part of the VM description QEMU writes after EOF, and the description's other
/// top-level fields (<see cref="DescriptionFields"/>, e.g. <c>{"page_size":4096}</c>). Sent back unchanged when the VM
/// goes to QEMU, so that the guest goes on there where it stopped. Immutable.
/// </summary>
public sealed class DeviceState
{
    /// <exception cref="ArgumentException">No section, or a section without a name or description.</exception>
    public DeviceState(IEnumerable<DeviceSection> sections, string descriptionFields)
    {
        ArgumentNullException.ThrowIfNull(sections);
        ArgumentException.ThrowIfNullOrWhiteSpace(descriptionFields);
        Sections = [.. sections];
        if (Sections.IsEmpty)
        {
            throw new ArgumentException("Device state has at least one section.", nameof(sections));
        }

        foreach (var section in Sections)
        {
            ArgumentNullException.ThrowIfNull(section, nameof(sections));
            if (string.IsNullOrEmpty(section.IdStr) || string.IsNullOrWhiteSpace(section.Description))
            {
                throw new ArgumentException("Each device section has an idstr and its description.", nameof(sections));
            }
        }

        DescriptionFields = descriptionFields;
    }

    /// <summary>The device sections, in the order QEMU sent them (and loads them).</summary>
    public ImmutableArray<DeviceSection> Sections { get; }

    /// <summary>The VM description's top-level fields other than <c>devices</c>, as a JSON object.</summary>
    public string DescriptionFields { get; }

    /// <summary>Bytes of state in all sections (their headers and footers not counted).</summary>
    public long StateBytes => Sections.Sum(s => (long)s.State.Length);
}

/// <summary>
/// One device section as QEMU sent it: its header (idstr, instance id, version id), its state bytes exactly as
/// received (between the header and the footer), and the device's object in the description's <c>devices</c> array
/// (JSON text as QEMU wrote it).
/// </summary>
public sealed record DeviceSection(string IdStr, uint InstanceId, uint VersionId, ReadOnlyMemory<byte> State, string Description);
