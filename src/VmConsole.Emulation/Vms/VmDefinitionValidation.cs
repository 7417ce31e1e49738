using VmConsole.Emulation.Machines;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Vms;

/// <summary>Checks a <see cref="VmDefinition"/> before a <see cref="Vm"/> is made from it: its name, machine, memory, slots and maxmem.</summary>
internal static class VmDefinitionValidation
{
    /// <summary>Refuses a definition no VM can be made from; returns its machine.</summary>
    /// <exception cref="DomainException">The name, machine, memory size, slots or maxmem are invalid.</exception>
    public static MachinePreset Validate(VmDefinition definition)
    {
        Names.ValidateName(definition.Name, "VM");
        var machine = MachinePreset.Find(definition.Machine);
        ValidateMemory(definition, machine);
        VmLayoutValidation.Validate(definition, machine);
        if (definition.Guest != GuestProgram.None)
        {
            throw DomainException.Invalid(
                ErrorCodes.NotSupportedByDriver,
                "A guest program runs on a QEMU host; an emulated VM's memory is changed by its workload instead.",
                "guest");
        }

        return machine;
    }

    private static void ValidateMemory(VmDefinition definition, MachinePreset machine)
    {
        if (definition.MemoryBytes <= 0 || definition.MemoryBytes % MiB != 0 || definition.MemoryBytes > Vm.MaxMemoryBytes)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidMemorySize, $"Memory must be a whole number of MiB between 1 MiB and {Format(Vm.MaxMemoryBytes)}; got {definition.MemoryBytes} bytes.");
        }

        if (definition.Slots is < 0 or > Vm.MaxSlots)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidSlots, $"Memory slots must be between 0 and {Vm.MaxSlots}; got {definition.Slots}.");
        }

        if (definition.Slots > 0 && !machine.SupportsMemoryHotplug)
        {
            throw DomainException.Invalid(ErrorCodes.HotplugUnsupported, $"Machine '{machine.Name}' does not support memory slots.");
        }

        if (definition.Slots > 0 && (definition.MaxMemBytes <= definition.MemoryBytes || definition.MaxMemBytes % MiB != 0 || definition.MaxMemBytes > Vm.MaxMemoryBytes))
        {
            throw DomainException.Invalid(ErrorCodes.InvalidMaxmem, $"maxmem must be a whole number of MiB above the VM's memory ({Format(definition.MemoryBytes)}) and at most {Format(Vm.MaxMemoryBytes)}; got {definition.MaxMemBytes} bytes.");
        }

        if (definition.Slots == 0 && definition.MaxMemBytes != 0 && definition.MaxMemBytes != definition.MemoryBytes)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidMaxmem, "maxmem above the VM's memory needs memory slots for the devices that would use it.");
        }
    }
}
