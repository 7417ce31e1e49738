namespace VmConsole.Persistence.Records;

public sealed class DeviceRecord
{
    public required string DeviceId { get; set; }

    public required string Driver { get; set; }

    public required string Memdev { get; set; }
}
