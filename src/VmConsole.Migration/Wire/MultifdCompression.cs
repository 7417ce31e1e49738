namespace VmConsole.Migration.Wire;

/// <summary>QEMU's <c>multifd-compression</c>: how the pages of a multifd packet travel (in JSON by QEMU's name).</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(MultifdCompressionJsonConverter))]
public enum MultifdCompression
{
    None,
    Zlib,
    Zstd,
}

/// <summary>QEMU's names of <see cref="MultifdCompression"/> (<c>none</c>, <c>zlib</c>, <c>zstd</c>).</summary>
public static class MultifdCompressionNames
{
    public static string ToQemuName(this MultifdCompression compression) => compression switch
    {
        MultifdCompression.Zlib => "zlib",
        MultifdCompression.Zstd => "zstd",
        _ => "none",
    };

    public static bool TryParse(string? name, out MultifdCompression compression)
    {
        compression = name switch
        {
            "none" => MultifdCompression.None,
            "zlib" => MultifdCompression.Zlib,
            "zstd" => MultifdCompression.Zstd,
            _ => (MultifdCompression)(-1),
        };
        return (int)compression >= 0;
    }
}
