namespace VmConsole.Emulation.Blocks;

[Flags]
public enum RamBlockFlags
{
    None = 0,

    /// <summary>Registered for migration: its pages go into the stream (RAM_MIGRATABLE).</summary>
    Migratable = 1 << 0,

    /// <summary>used_length may change up to max_length (RAM_RESIZEABLE).</summary>
    Resizeable = 1 << 1,

    /// <summary>Backed by memory shared with another process (RAM_SHARED).</summary>
    Shared = 1 << 2,

    /// <summary>ROM: the guest cannot write it (RAM_READONLY).</summary>
    ReadOnly = 1 << 3,
}
