namespace VmConsole.Migration.Wire;

/// <summary>A migratable block as the RAM section's setup announces it.</summary>
public readonly record struct RamBlockHeader(string IdStr, long UsedLength)
{
    /// <summary>The block's page size when the list carries it (postcopy-ram and a page size other than the host's); null otherwise (the host's).</summary>
    public long? PageSize { get; init; }

    /// <summary>The block's guest address when the list carries it (x-ignore-shared); null otherwise.</summary>
    public long? GuestAddress { get; init; }
}
