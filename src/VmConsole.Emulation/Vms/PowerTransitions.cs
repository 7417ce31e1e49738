namespace VmConsole.Emulation.Vms;

/// <summary>Which run states each power action may start from, as QEMU allows them.</summary>
internal static class PowerTransitions
{
    private static readonly Dictionary<PowerAction, RunState[]> LegalFrom = new()
    {
        [PowerAction.Start] = [RunState.Prelaunch, RunState.Shutdown],
        [PowerAction.Pause] = [RunState.Running],
        [PowerAction.Resume] = [RunState.Paused],
        [PowerAction.Reset] = [RunState.Running, RunState.Paused],
        [PowerAction.Shutdown] = [RunState.Prelaunch, RunState.Running, RunState.Paused, RunState.InMigrate, RunState.FinishMigrate, RunState.PostMigrate],
    };

    /// <summary>Refuses <paramref name="action"/> on VM <paramref name="vmName"/> while it is in <paramref name="current"/> if the table does not allow it.</summary>
    /// <exception cref="DomainException">illegal-power-transition.</exception>
    public static void Check(PowerAction action, RunState current, string vmName)
    {
        var legal = LegalFrom[action];
        if (legal.Contains(current))
        {
            return;
        }

        if (current == RunState.FinishMigrate)
        {
            // QEMU 7.2 would take cont here and run the guest while its last pages and device state are on the way.
            throw DomainException.Conflict(
                ErrorCodes.IllegalPowerTransition,
                $"Cannot {action.ToQemuName()} VM '{vmName}' while it is finish-migrate: its migration has stopped the guest to switch over. Continue or cancel the migration first (cancel puts the VM back as it was).");
        }

        throw DomainException.Conflict(
            ErrorCodes.IllegalPowerTransition,
            $"Cannot {action.ToQemuName()} VM '{vmName}' while it is {current.ToQemuName()}; {action.ToQemuName()} needs {string.Join(" or ", legal.Select(s => s.ToQemuName()))}.");
    }
}
