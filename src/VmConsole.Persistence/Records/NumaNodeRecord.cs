namespace VmConsole.Persistence.Records;

/// <summary>A NUMA node of a VM: its memdev (the block's idstr) and size, at its position in guest order.</summary>
public sealed class NumaNodeRecord
{
    /// <summary>The node's number (0, 1, ...): the order the guest sees the nodes' RAM in.</summary>
    public int Node { get; set; }

    public required string Memdev { get; set; }

    public long SizeBytes { get; set; }
}
