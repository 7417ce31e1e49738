using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;

namespace VmConsole.Emulation;

/// <summary>The emulator as one of the console's VM drivers (<see cref="IVmDriver"/>).</summary>
public sealed partial class Emulator : IVmDriver
{
    public DriverKind Kind => DriverKind.Emulator;

    IReadOnlyList<IVmHost> IVmDriver.VmHosts => Hosts;

    IReadOnlyList<IVirtualMachine> IVmDriver.VirtualMachines => Vms;

    bool IVmDriver.TryGetVirtualMachine(string name, out IVirtualMachine vm)
    {
        var found = TryGetVm(name, out var emulated);
        vm = emulated;
        return found;
    }

    IVirtualMachine IVmDriver.GetVirtualMachine(string name) => GetVm(name);

    Task<IVirtualMachine> IVmDriver.CreateVirtualMachineAsync(VmDefinition definition, CancellationToken cancellationToken) =>
        Task.FromResult<IVirtualMachine>(CreateVm(definition));

    Task IVmDriver.DeleteVirtualMachineAsync(string name, CancellationToken cancellationToken) => DeleteVmAsync(name, cancellationToken);
}
