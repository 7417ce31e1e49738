namespace VmConsole.Persistence.Records;

public sealed class HostRecord
{
    public required string Name { get; set; }

    public long CapacityBytes { get; set; }
}

/// <summary>A VM's definition and layout: what it takes to build it again, shut off, after a restart.</summary>
public sealed class VmRecord
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    public required string Host { get; set; }

    public required string Machine { get; set; }

    public long MemoryBytes { get; set; }

    public int Slots { get; set; }

    public long MaxMemBytes { get; set; }

    public required string WorkloadKind { get; set; }

    public long PagesPerSecond { get; set; }

    public long WorkingSetBytes { get; set; }

    /// <summary>The run state last seen (informational: after a restart the VM is shut off).</summary>
    public required string RunState { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>The highest block id the VM handed out (freed blocks included), so that ids are never reused after a restart.</summary>
    public int LastBlockId { get; set; }

    public List<RamBlockRecord> Blocks { get; set; } = [];

    public List<DeviceRecord> Devices { get; set; } = [];
}

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

public sealed class DeviceRecord
{
    public required string DeviceId { get; set; }

    public required string Driver { get; set; }

    public required string Memdev { get; set; }
}

public sealed class MigrationRecord
{
    public required string Id { get; set; }

    public required string Vm { get; set; }

    public required string SourceHost { get; set; }

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

public sealed class MigrationEventRecord
{
    public long Id { get; set; }

    public required string MigrationId { get; set; }

    public required string Status { get; set; }

    public DateTimeOffset At { get; set; }
}

/// <summary>One point of a migration's progress, for the charts.</summary>
public sealed class ProgressSampleRecord
{
    public long Id { get; set; }

    public required string MigrationId { get; set; }

    public DateTimeOffset At { get; set; }

    public long Transferred { get; set; }

    public long Remaining { get; set; }

    public double DirtyPagesRate { get; set; }

    public double Mbps { get; set; }

    public long DirtySyncCount { get; set; }

    public long? ExpectedDowntime { get; set; }

    public int CpuThrottlePercentage { get; set; }
}

/// <summary>Who did what to what, when, and whether it was allowed (and why not).</summary>
public sealed class AuditRecord
{
    public long Id { get; set; }

    public DateTimeOffset At { get; set; }

    public required string User { get; set; }

    public required string Action { get; set; }

    public required string Target { get; set; }

    public string? Vm { get; set; }

    public bool Allowed { get; set; }

    public string? Code { get; set; }

    public string? Reason { get; set; }

    /// <summary>How many times this happened: above 1 for repeats of an unauthenticated refusal, kept as one row.</summary>
    public int Count { get; set; } = 1;
}

/// <summary>
/// A signed-in session: its cookie names it, and it is valid only while this row exists. Sign-out deletes it;
/// a role change rewrites <see cref="Role"/>; a password change or the user's deletion deletes all of the user's.
/// </summary>
public sealed class SessionRecord
{
    /// <summary>Random, unguessable; the cookie's session claim.</summary>
    public required string Id { get; set; }

    public required string UserId { get; set; }

    public required string UserName { get; set; }

    /// <summary>The user's role now (not when signed in): requests are authorized with it.</summary>
    public required string Role { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the session ends on its own, however active it is.</summary>
    public DateTimeOffset ExpiresAt { get; set; }
}
