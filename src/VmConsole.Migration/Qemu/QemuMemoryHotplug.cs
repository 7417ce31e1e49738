using System.Text.Json;
using VmConsole.Emulation.Vms;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// What QEMU's kept device state says of the VM's memory hotplug: the ACPI memory hotplug block of a pc or q35
/// (<c>piix4_pm/memhp</c>, <c>ich9_pm/memhp</c>) has one entry per DIMM slot (<c>-m slots=N</c>), so a QEMU that loads
/// that state must have as many slots as the source had, plugged or not; the RAM blocks alone only say how many DIMMs
/// were plugged.
/// </summary>
public static class QemuMemoryHotplug
{
    private const string FieldName = "acpi_memory_hotplug";

    /// <summary>The slot count of the source QEMU as its device state gives it, or 0 when it has no memory hotplug block.</summary>
    public static int SlotsOf(DeviceState? state)
    {
        if (state is null)
        {
            return 0;
        }

        foreach (var section in state.Sections)
        {
            if (!section.Description.Contains(FieldName, StringComparison.Ordinal))
            {
                continue;
            }

            using var json = JsonDocument.Parse(section.Description);
            if (Find(json.RootElement) is { } slots)
            {
                return slots;
            }
        }

        return 0;
    }

    /// <summary>The <c>array_len</c> of <c>devs</c> in the struct of the field <c>acpi_memory_hotplug</c>, searched depth first.</summary>
    private static int? Find(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (element.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String && name.GetString() == FieldName
                    && element.TryGetProperty("struct", out var hotplug) && hotplug.TryGetProperty("fields", out var fields) && fields.ValueKind == JsonValueKind.Array)
                {
                    foreach (var field in fields.EnumerateArray())
                    {
                        if (field.TryGetProperty("name", out var fieldName) && fieldName.ValueKind == JsonValueKind.String && fieldName.GetString() == "devs")
                        {
                            return field.TryGetProperty("array_len", out var length) && length.TryGetInt32(out var slots) ? slots : 1;
                        }
                    }

                    return 0;
                }

                foreach (var property in element.EnumerateObject())
                {
                    if (Find(property.Value) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (Find(item) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            default:
                return null;
        }
    }
}
