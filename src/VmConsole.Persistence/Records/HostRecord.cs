namespace VmConsole.Persistence.Records;

public sealed class HostRecord
{
    public required string Name { get; set; }

    public long CapacityBytes { get; set; }
}
