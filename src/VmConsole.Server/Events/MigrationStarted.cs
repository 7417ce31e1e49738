using VmConsole.Migration.Model;
using VmConsole.Server.Api;

namespace VmConsole.Server.Events;

/// <summary>A migration of any kind was accepted; <paramref name="Snapshot"/> is it at that moment.</summary>
public sealed record MigrationStarted(IMigration Migration, MigrationDto Snapshot) : ConsoleEvent;
