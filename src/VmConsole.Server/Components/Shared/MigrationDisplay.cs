using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;

namespace VmConsole.Server.Components.Shared;

/// <summary>How the console shows migrations.</summary>
public static class MigrationDisplay
{
    public static Color StatusColor(MigrationStatus status) => status switch
    {
        MigrationStatus.Completed => Color.Success,
        MigrationStatus.Failed or MigrationStatus.Failing => Color.Error,
        MigrationStatus.Cancelled or MigrationStatus.Cancelling => Color.Warning,
        MigrationStatus.PreSwitchover => Color.Secondary,
        _ => Color.Info,
    };

    /// <summary>Cancelling and failing are still running: the worker has not quit yet.</summary>
    public static string Label(MigrationStatus status) => status switch
    {
        MigrationStatus.Cancelling => "Cancelling...",
        MigrationStatus.Failing => "Failing...",
        _ => status.ToQemuName(),
    };
}
