namespace VmConsole.Qemu.Memory;

/// <summary>
/// One row of a QEMU's RAM block table, as <c>x-query-ramblock</c> lists it and joined with the backends and memory
/// devices it belongs to. <see cref="IdStr"/> is empty for a backend no device uses (DESIGN.md section 10): such a
/// block is not migratable, and <see cref="BackendId"/> names it when its size says which unused backend it is.
/// </summary>
/// <param name="IdStr">The block's name: <c>pc.ram</c>, a backend id once a device uses it, <c>/rom@etc/acpi/tables</c>...</param>
/// <param name="PageSize">The host page size backing it, in bytes.</param>
/// <param name="Offset">Its offset in QEMU's ram_addr space.</param>
/// <param name="UsedLength">The bytes in use (what a migration sends).</param>
/// <param name="MaxLength">The bytes reserved (a resizeable block may grow to it).</param>
/// <param name="BackendId">The memory backend (<c>query-memdev</c>) behind it, if any.</param>
/// <param name="DeviceId">The memory device (<c>query-memory-devices</c>) that plugs its backend, if any.</param>
public sealed record QemuRamBlock(string IdStr, long PageSize, long Offset, long UsedLength, long MaxLength, string? BackendId = null, string? DeviceId = null)
{
    /// <summary>Named blocks are registered for migration; an unplugged backend's unnamed block is not.</summary>
    public bool Migratable => IdStr.Length > 0;

    public bool Resizeable => MaxLength > UsedLength;
}
