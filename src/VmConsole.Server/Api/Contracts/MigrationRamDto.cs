namespace VmConsole.Server.Api;

public sealed record MigrationRamDto(
    long Transferred, long Remaining, long Total, long Duplicate, long Normal, long NormalBytes, double DirtyPagesRate,
    double Mbps, long DirtySyncCount, long PageSize, double PagesPerSecond, long PrecopyBytes, long DowntimeBytes);
