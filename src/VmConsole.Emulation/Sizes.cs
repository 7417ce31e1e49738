namespace VmConsole.Emulation;

/// <summary>Byte sizes as people read them.</summary>
public static class Sizes
{
    public const long KiB = 1024;
    public const long MiB = 1024 * KiB;
    public const long GiB = 1024 * MiB;

    /// <summary>In the largest unit the size reaches: whole when exact ("2 MiB"), else to two decimals ("1.25 GiB").</summary>
    public static string Format(long bytes)
    {
        var (unit, name) = Math.Abs(bytes) switch
        {
            >= GiB => (GiB, "GiB"),
            >= MiB => (MiB, "MiB"),
            >= KiB => (KiB, "KiB"),
            _ => (1L, "B"),
        };
        return bytes % unit == 0 ? $"{bytes / unit} {name}" : $"{bytes / (double)unit:0.##} {name}";
    }
}
