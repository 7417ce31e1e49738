using VmConsole.Emulation;

namespace VmConsole.Migration.Engine;

/// <summary>One successful state change, as the event log records it.</summary>
public readonly record struct MigrationEvent(MigrationStatus Status, DateTimeOffset At);
