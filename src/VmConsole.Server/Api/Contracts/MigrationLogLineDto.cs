namespace VmConsole.Server.Api;

/// <summary>
/// One line of a migration's task log: <c>pass</c> (a dirty sync: what was sent, what was dirty, the throttle, the
/// expected downtime) or <c>action</c> (started, cancel requested, switchover, ended, who did what), with the QEMU monitor
/// commands that would do the same (HMP and QMP), empty when the line is only an observation.
/// </summary>
public sealed record MigrationLogLineDto(DateTimeOffset At, string Kind, string Text, IReadOnlyList<string> Hmp, IReadOnlyList<string> Qmp);
