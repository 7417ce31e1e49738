using VmConsole.Qemu.Vms;

namespace VmConsole.Qemu.Driver;

public sealed partial class QemuDomain
{
    /// <summary>
    /// A domain for a QEMU process that already runs a VM which arrived from another driver (DESIGN.md section 9): it
    /// keeps the VM's id and name, and its definition is the process's, as a VM started normally (not a migration's
    /// destination) would have it.
    /// </summary>
    internal static QemuDomain Adopting(Guid id, QemuHost host, QemuVm vm, TimeSpan teardownTimeout)
    {
        ArgumentNullException.ThrowIfNull(vm);
        vm.Spec = vm.Spec with { Incoming = false, Paused = false };
        var domain = new QemuDomain(id, host, vm.Spec, vm.CommandLine, teardownTimeout);
        domain.Adopt(vm);
        return domain;
    }
}
