namespace VmConsole.Migration.Model;

/// <summary>Names for a migration's end that is not a host of this console.</summary>
public static class MigrationPeers
{
    /// <summary>The source of a migration received from a QEMU outside the console.</summary>
    public const string Qemu = "qemu";
}
