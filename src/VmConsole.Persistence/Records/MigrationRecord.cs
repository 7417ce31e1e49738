namespace VmConsole.Persistence.Records;

public sealed class MigrationRecord
{
    public required string Id { get; set; }

    public required string Vm { get; set; }

    public required string SourceHost { get; set; }

    /// <summary><c>outgoing</c> (the VM left one of the console's hosts) or <c>incoming</c> (it arrived from a peer outside).</summary>
    public string Direction { get; set; } = "outgoing";

    public string? DestinationHost { get; set; }

    public string? Uri { get; set; }

    public required string Status { get; set; }

    /// <summary>Parameters and capabilities as JSON, in QEMU's camelCase names.</summary>
    public required string ParametersJson { get; set; }

    public required string CapabilitiesJson { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    /// <summary>query-migrate's numbers as last seen (final once the migration has ended), as JSON.</summary>
    public string? StatsJson { get; set; }

    public string? ErrorDesc { get; set; }

    public bool? Verified { get; set; }

    public List<MigrationEventRecord> Events { get; set; } = [];
}
