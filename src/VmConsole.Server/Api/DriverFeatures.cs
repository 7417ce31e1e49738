using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;

namespace VmConsole.Server.Api;

/// <summary>Endpoints for what only some drivers can do: the VM's features say whether it can, before anything is tried.</summary>
internal static class DriverFeatures
{
    /// <summary>
    /// The emulated VM named <paramref name="name"/>, once its <see cref="IVirtualMachine.Features"/> say it has
    /// <paramref name="feature"/>; otherwise 409 <c>not-supported-by-driver</c> naming <paramref name="what"/> and the driver.
    /// </summary>
    public static Vm RequireEmulated(this VmInventory inventory, Emulator emulator, string name, VmFeatures feature, string what)
    {
        if (!emulator.TryGetVm(name, out var emulated))
        {
            VmInventory.Require(inventory.Get(name), feature, what);
        }

        return emulator.GetVm(name);
    }
}
