using VmConsole.Emulation;

namespace VmConsole.Migration.Model;

/// <summary>The refusals every kind of migration shares, worded once.</summary>
public static class MigrationRefusals
{
    /// <summary>409 <c>not-pre-switchover</c>: continue asked of a migration that does not wait in pre-switchover.</summary>
    public static DomainException NotPreSwitchover(string id, string status) =>
        DomainException.Conflict(
            ErrorCodes.NotPreSwitchover,
            $"Migration {Names.Shorten(id)} is {status}; continue is only for a migration waiting in pre-switchover.");
}
