namespace VmConsole.Emulation.Vms;

/// <summary>What a QEMU VM runs (DESIGN.md section 10): nothing but its firmware, or the project's sweep guest.</summary>
public enum GuestProgram
{
    /// <summary>Firmware only: the CPU idles in the BIOS; memory changes only by what the console does.</summary>
    None,

    /// <summary>The multiboot sweep guest: increments the first byte of every page of a range, forever.</summary>
    Sweep,
}
