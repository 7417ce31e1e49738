namespace VmConsole.Persistence.Records;

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
