namespace VmConsole.Qemu.Migrations;

/// <summary>
/// Whether QEMU 7.2 can do postcopy on this machine: the destination registers its guest RAM with userfaultfd, which QEMU
/// 7.2 opens with the system call (not <c>/dev/userfaultfd</c>, which QEMU reads only from 8.1). The kernel allows that
/// call to a privileged process, or to anyone when <c>vm.unprivileged_userfaultfd</c> is 1.
/// </summary>
internal static class QemuPostcopySupport
{
    private const string Sysctl = "/proc/sys/vm/unprivileged_userfaultfd";
    private const string Device = "/dev/userfaultfd";

    /// <summary>Null when QEMUs started by this process can do postcopy; otherwise why not.</summary>
    public static string? Check() =>
        OperatingSystem.IsLinux()
            ? Check(Environment.IsPrivilegedProcess, File.Exists(Sysctl) ? File.ReadAllText(Sysctl).Trim() : null, File.Exists(Device))
            : "Postcopy needs Linux's userfaultfd, and this host is not Linux.";

    /// <summary>The decision, from what the machine says: whether QEMU runs privileged, the sysctl's value (null when absent), whether the device exists.</summary>
    public static string? Check(bool privileged, string? unprivilegedUserfaultfd, bool deviceExists)
    {
        if (unprivilegedUserfaultfd is null && !deviceExists)
        {
            return $"This kernel has no userfaultfd (neither {Sysctl} nor {Device} exists), which postcopy needs: it was built without CONFIG_USERFAULTFD.";
        }

        if (privileged || unprivilegedUserfaultfd == "1")
        {
            return null;
        }

        return $"The console (and so QEMU) runs unprivileged and {Sysctl} is {unprivilegedUserfaultfd ?? "absent"}: QEMU 7.2 cannot open userfaultfd for postcopy. "
            + "Run the console as root or set sysctl vm.unprivileged_userfaultfd=1.";
    }
}
