namespace VmConsole.Emulation.Vms;

/// <summary>What a person can ask of a VM's power.</summary>
public enum PowerAction
{
    Start,
    Pause,
    Resume,
    Shutdown,
    Reset,
}
