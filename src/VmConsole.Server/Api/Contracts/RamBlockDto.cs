namespace VmConsole.Server.Api;

public sealed record RamBlockDto(
    int Id, string IdStr, string? BackendId, long Offset, long PageSize, long UsedLength, long MaxLength,
    bool Migratable, bool Resizeable, bool Shared, bool ReadOnly, bool GuestVisible, long? GuestAddress, double DirtyPagesPerSecond, string? DeviceId = null);
