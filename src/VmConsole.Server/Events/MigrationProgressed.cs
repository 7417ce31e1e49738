using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Server.Api;

namespace VmConsole.Server.Events;

/// <summary>A migration's numbers moved (at most ten times a second); taken on the thread that reported them.</summary>
public sealed record MigrationProgressed(IMigration Migration, DateTimeOffset At, MigrationStats Stats, MigrationDto Snapshot) : ConsoleEvent;
