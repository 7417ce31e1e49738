namespace VmConsole.Migration.Wire;

/// <summary>A migratable block as the RAM section's setup announces it.</summary>
public readonly record struct RamBlockHeader(string IdStr, long UsedLength);
