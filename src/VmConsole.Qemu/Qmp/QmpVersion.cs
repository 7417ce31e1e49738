namespace VmConsole.Qemu.Qmp;

/// <summary>The QEMU version the greeting announced, e.g. 7.2.22 with package "Debian 1:7.2+dfsg-7+deb12u18".</summary>
public sealed record QmpVersion(int Major, int Minor, int Micro, string Package)
{
    public override string ToString() => Package.Length == 0 ? $"{Major}.{Minor}.{Micro}" : $"{Major}.{Minor}.{Micro} ({Package.Trim()})";
}
