namespace VmConsole.Migration.Model;

/// <summary>Which way a migration goes, seen from this console.</summary>
public enum MigrationDirection
{
    /// <summary>The VM leaves one of this console's hosts (to another of its hosts, a file, or a peer listening outside).</summary>
    Outgoing,

    /// <summary>The VM arrives from a peer outside the console (a QEMU sending with <c>migrate</c>).</summary>
    Incoming,
}
