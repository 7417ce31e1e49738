namespace VmConsole.Emulation;

public static class MigrationStatusNames
{
    private static readonly string[] Names =
    [
        "none", "setup", "active", "pre-switchover", "device", "postcopy-active", "postcopy-paused",
        "postcopy-recover", "completed", "cancelling", "cancelled", "failing", "failed",
    ];

    /// <summary>QEMU's spelling: <c>pre-switchover</c>, <c>cancelling</c>...</summary>
    public static string ToQemuName(this MigrationStatus status) => Names[(int)status];

    public static bool TryParse(string? name, out MigrationStatus status)
    {
        var index = Array.IndexOf(Names, name);
        status = index < 0 ? MigrationStatus.None : (MigrationStatus)index;
        return index >= 0;
    }

    /// <summary>Whether the migration has ended (its worker has quit or will never run).</summary>
    public static bool IsFinal(this MigrationStatus status) =>
        status is MigrationStatus.Completed or MigrationStatus.Cancelled or MigrationStatus.Failed;

    /// <summary>States a cancel moves to <c>cancelling</c> from.</summary>
    public static bool IsCancellable(this MigrationStatus status) =>
        status is MigrationStatus.Setup or MigrationStatus.Active or MigrationStatus.PreSwitchover or MigrationStatus.Device;
}
