namespace VmConsole.Emulation.Drivers;

/// <summary>
/// The process behind a QEMU VM, as Proxmox's "Show command" shows it: its id, the QEMU that answers its monitor, the
/// command line the console started it with (as a list: it never goes through a shell) and its runtime directory.
/// </summary>
public sealed record VmProcessInfo(int Pid, string QemuVersion, IReadOnlyList<string> CommandLine, string RuntimeDirectory);
