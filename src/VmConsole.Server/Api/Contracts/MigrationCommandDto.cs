namespace VmConsole.Server.Api;

/// <summary>What was done to a migration, as the commands a QEMU monitor would take, in order: HMP lines and QMP JSON.</summary>
public sealed record MigrationCommandDto(string Id, IReadOnlyList<string> Hmp, IReadOnlyList<string> Qmp);
