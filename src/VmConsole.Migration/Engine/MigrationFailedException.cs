namespace VmConsole.Migration.Engine;

/// <summary>A migration that cannot go on, with the reason that becomes its errorDesc.</summary>
public sealed class MigrationFailedException(string message, Exception? inner = null) : Exception(message, inner);
