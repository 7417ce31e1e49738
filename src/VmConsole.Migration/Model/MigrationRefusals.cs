using VmConsole.Emulation;

namespace VmConsole.Migration.Model;

/// <summary>The refusals every kind of migration shares, worded once.</summary>
public static class MigrationRefusals
{
    /// <summary>409 <c>not-pre-switchover</c>: continue asked of a migration that does not wait in pre-switchover.</summary>
    /// <summary>What a migration without postcopy answers to migrate-start-postcopy.</summary>
    public static DomainException PostcopyNotEnabled(string id, string vm) =>
        DomainException.Conflict(
            ErrorCodes.PostcopyNotEnabled,
            $"Migration {Names.Shorten(id)} of VM '{vm}' runs without the postcopy-ram capability: it can only converge in precopy.");

    public static DomainException NotPreSwitchover(string id, string status) =>
        DomainException.Conflict(
            ErrorCodes.NotPreSwitchover,
            $"Migration {Names.Shorten(id)} is {status}; continue is only for a migration waiting in pre-switchover.");
}
