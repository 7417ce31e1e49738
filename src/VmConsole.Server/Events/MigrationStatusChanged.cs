using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Server.Api;

namespace VmConsole.Server.Events;

/// <summary>A migration changed state; the statistics and snapshot are taken on the thread that made the change.</summary>
public sealed record MigrationStatusChanged(IMigration Migration, MigrationStatus Status, DateTimeOffset At, MigrationStats Stats, MigrationDto Snapshot) : ConsoleEvent;
