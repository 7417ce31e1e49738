using VmConsole.Qemu.Migrations;

namespace VmConsole.Qemu.Tests;

/// <summary>Whether QEMU 7.2 can open userfaultfd for postcopy, from what the machine says.</summary>
public sealed class QemuPostcopySupportTests
{
    [Theory]
    [InlineData(true, "0", true)]
    [InlineData(true, null, true)]
    [InlineData(false, "1", false)]
    public void Check_RootOrUnprivilegedUserfaultfdAllowed_Null(bool privileged, string? sysctl, bool device) =>
        Assert.Null(QemuPostcopySupport.Check(privileged, sysctl, device));

    [Fact]
    public void Check_UnprivilegedWithTheSysctlOff_SaysToRunAsRootOrSetTheSysctl()
    {
        var reason = QemuPostcopySupport.Check(privileged: false, "0", deviceExists: true);

        Assert.NotNull(reason);
        Assert.Contains("vm.unprivileged_userfaultfd=1", reason, StringComparison.Ordinal);
        Assert.Contains("root", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_KernelWithoutUserfaultfd_SaysSoEvenForRoot()
    {
        var reason = QemuPostcopySupport.Check(privileged: true, null, deviceExists: false);

        Assert.NotNull(reason);
        Assert.Contains("CONFIG_USERFAULTFD", reason, StringComparison.Ordinal);
    }
}
