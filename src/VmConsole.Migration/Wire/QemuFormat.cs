namespace VmConsole.Migration.Wire;

/// <summary>Constants of QEMU's migration stream (savevm.c, ram.c in QEMU 7.2). Big-endian throughout.</summary>
public static class QemuFormat
{
    /// <summary>"QEVM".</summary>
    public const uint FileMagic = 0x5145564D;

    public const uint FileVersion = 3;

    /// <summary>Every RAM page record carries one target page: 4 KiB on x86.</summary>
    public const int TargetPageSize = 4096;

    // Section types.
    public const byte Eof = 0x00;
    public const byte SectionStart = 0x01;
    public const byte SectionPart = 0x02;
    public const byte SectionEnd = 0x03;
    public const byte SectionFull = 0x04;
    public const byte Subsection = 0x05;
    public const byte VmDescription = 0x06;
    public const byte Configuration = 0x07;
    public const byte Command = 0x08;
    public const byte SectionFooter = 0x7E;

    /// <summary>The RAM section: idstr "ram", instance 0, version 4.</summary>
    public const string RamIdStr = "ram";
    public const uint RamInstanceId = 0;
    public const uint RamVersionId = 4;

    // RAM record flags, in the low bits of the be64 address word (RAM_SAVE_FLAG_*).
    public const ulong RamFlagFull = 0x01;
    public const ulong RamFlagZero = 0x02;
    public const ulong RamFlagMemSize = 0x04;
    public const ulong RamFlagPage = 0x08;
    public const ulong RamFlagEos = 0x10;
    public const ulong RamFlagContinue = 0x20;
    public const ulong RamFlagXbzrle = 0x40;
    public const ulong RamFlagHook = 0x80;
    public const ulong RamFlagCompressPage = 0x100;

    /// <summary>The flag bits live below the target page size.</summary>
    public const ulong RamFlagMask = TargetPageSize - 1;

    /// <summary>VmConsole peers' own device-state section (run state, workload); left out in QEMU-compatible mode.</summary>
    public const string VmConsoleStateIdStr = "vmconsole/state";
    public const uint VmConsoleStateVersionId = 1;
}
