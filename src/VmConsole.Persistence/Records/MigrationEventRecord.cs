namespace VmConsole.Persistence.Records;

public sealed class MigrationEventRecord
{
    public long Id { get; set; }

    public required string MigrationId { get; set; }

    public required string Status { get; set; }

    public DateTimeOffset At { get; set; }
}
