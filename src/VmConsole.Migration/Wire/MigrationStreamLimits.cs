namespace VmConsole.Migration.Wire;

/// <summary>Bounds on what a reader believes from an untrusted stream, so a hostile length never drives an allocation.</summary>
public sealed record MigrationStreamLimits
{
    public static MigrationStreamLimits Default { get; } = new();

    /// <summary>Longest machine type name in the configuration section.</summary>
    public int MaxMachineTypeLength { get; init; } = 256;

    /// <summary>Most blocks the RAM setup may announce.</summary>
    public int MaxRamBlocks { get; init; } = 65_536;

    /// <summary>Largest total RAM (MEM_SIZE) a stream may announce.</summary>
    public long MaxTotalRamBytes { get; init; } = 16L << 40;

    /// <summary>Largest VmConsole device-state payload.</summary>
    public int MaxDeviceStateBytes { get; init; } = 1 << 20;

    /// <summary>Largest JSON description after EOF.</summary>
    public int MaxVmDescriptionBytes { get; init; } = 16 << 20;
}
