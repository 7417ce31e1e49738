namespace VmConsole.Persistence.Records;

/// <summary>One line of a migration's task log (a pass or an action), with the QEMU monitor commands it stands for.</summary>
public sealed class MigrationLogRecord
{
    public long Id { get; set; }

    public required string MigrationId { get; set; }

    public DateTimeOffset At { get; set; }

    /// <summary><c>pass</c> or <c>action</c>.</summary>
    public required string Kind { get; set; }

    public required string Text { get; set; }

    /// <summary>HMP lines, one per line; null when none.</summary>
    public string? Hmp { get; set; }

    /// <summary>QMP commands (JSON), one per line; null when none.</summary>
    public string? Qmp { get; set; }
}
