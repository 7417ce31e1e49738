namespace VmConsole.Persistence.Records;

/// <summary>One device section QEMU sent with a VM, kept verbatim: its header, its state bytes, its part of the description.</summary>
public sealed class DeviceSectionRecord
{
    /// <summary>Its place in the stream (QEMU loads the sections in this order).</summary>
    public int Position { get; set; }

    public string IdStr { get; set; } = "";

    public long InstanceId { get; set; }

    public long VersionId { get; set; }

    public byte[] State { get; set; } = [];

    /// <summary>The device's object in the description's <c>devices</c> array (JSON).</summary>
    public string Description { get; set; } = "";
}
