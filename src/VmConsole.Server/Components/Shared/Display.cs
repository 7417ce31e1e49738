using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;

namespace VmConsole.Server.Components.Shared;

/// <summary>How the console writes numbers and states.</summary>
public static class Display
{
    public static string Bytes(long bytes) => Sizes.Format(bytes);

    /// <summary>ram_addr and guest addresses as QEMU's info ramblock prints them.</summary>
    public static string Hex(long value) => $"0x{value:x16}";

    public static string Rate(double perSecond) => perSecond < 10 && perSecond > 0 ? perSecond.ToString("0.#") : perSecond.ToString("N0");

    public static Color StateColor(RunState state) => state switch
    {
        RunState.Running => Color.Success,
        RunState.Paused => Color.Warning,
        RunState.InMigrate or RunState.PostMigrate => Color.Info,
        RunState.Shutdown => Color.Default,
        _ => Color.Secondary,
    };

    public static string StateIcon(RunState state) => state switch
    {
        RunState.Running => Icons.Material.Filled.PlayCircle,
        RunState.Paused => Icons.Material.Filled.PauseCircle,
        RunState.InMigrate or RunState.PostMigrate => Icons.Material.Filled.SwapHorizontalCircle,
        RunState.Shutdown => Icons.Material.Filled.PowerSettingsNew,
        _ => Icons.Material.Filled.HourglassEmpty,
    };
}
