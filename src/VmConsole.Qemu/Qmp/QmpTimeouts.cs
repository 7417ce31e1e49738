namespace VmConsole.Qemu.Qmp;

/// <summary>
/// How long a command may take: short for most (QEMU answers from its main loop at once), long for those that wait
/// for a migration or for guest memory (a busy migration thread or a large <c>pmemsave</c> delays them).
/// </summary>
public sealed record QmpTimeouts
{
    private static readonly HashSet<string> LongCommands = new(StringComparer.Ordinal)
    {
        "migrate", "migrate-incoming", "migrate_cancel", "migrate-continue", "migrate-start-postcopy", "query-migrate",
        "calc-dirty-rate", "query-dirty-rate", "pmemsave", "memsave", "system_powerdown", "quit", "device_add", "device_del",
    };

    public static QmpTimeouts Default { get; } = new();

    /// <summary>
    /// For the greeting and <c>qmp_capabilities</c>, and every command not in the long list. Generous: on a loaded host a
    /// busy TCG vCPU can keep QEMU's main loop from a command for seconds (seen here: a device_del took over 10 s).
    /// </summary>
    public TimeSpan Short { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>For migration commands and queries, hotplug, dirty-rate measurement and memory dumps.</summary>
    public TimeSpan Long { get; init; } = TimeSpan.FromSeconds(120);

    public TimeSpan For(string command) => LongCommands.Contains(command) ? Long : Short;
}
