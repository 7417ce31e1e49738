namespace VmConsole.Persistence.Records;

/// <summary>A block as the definition needs it: a machine block by idstr, a backend by its id; flags and length.</summary>
public sealed class RamBlockRecord
{
    public int Position { get; set; }

    /// <summary>The block's id in the console (the API's <c>{block}</c>), kept so that it survives a restart; 0 in rows written before it was kept.</summary>
    public int BlockId { get; set; }

    public string IdStr { get; set; } = "";

    public string? BackendId { get; set; }

    public long UsedLength { get; set; }

    public long MaxLength { get; set; }

    public bool Migratable { get; set; }
}
