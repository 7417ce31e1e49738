namespace VmConsole.Emulation.Workloads;

public enum WorkloadKind
{
    /// <summary>Writes nothing.</summary>
    Idle,

    /// <summary>Random pages of the working set, at the set rate.</summary>
    Uniform,

    /// <summary>Increments the first byte of every page in turn, endlessly (QEMU's migration-test guest).</summary>
    Sweep,

    /// <summary>80% of writes to the first 20% of the working set, the rest to the other 80%.</summary>
    Hotspot,
}
