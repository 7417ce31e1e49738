namespace VmConsole.Migration.Wire;

/// <summary>
/// The commands of a QEMU 7.2 stream (savevm.c <c>enum qemu_vm_cmd</c>): byte <c>0x08</c>, be16 command, be16 length,
/// then that many bytes of data.
/// </summary>
public enum MigrationCommand : ushort
{
    Invalid = 0,
    OpenReturnPath = 1,
    Ping = 2,
    PostcopyAdvise = 3,
    PostcopyListen = 4,
    PostcopyRun = 5,
    PostcopyRamDiscard = 6,
    Packaged = 7,
    EnableColo = 8,
    PostcopyResume = 9,
    RecvBitmap = 10,
    Max = 11,
}

/// <summary>QEMU's names and data lengths of the commands (savevm.c <c>mig_cmd_args</c>).</summary>
public static class MigrationCommands
{
    /// <summary>The length QEMU requires, or -1 when the command's data has a length of its own choosing.</summary>
    public static int Length(MigrationCommand command) => command switch
    {
        MigrationCommand.OpenReturnPath or MigrationCommand.PostcopyListen or MigrationCommand.PostcopyRun
            or MigrationCommand.EnableColo or MigrationCommand.PostcopyResume => 0,
        MigrationCommand.Ping or MigrationCommand.Packaged => 4,
        _ => -1,
    };

    /// <summary>QEMU's name of the command (<c>MIG_CMD_</c> without the prefix).</summary>
    public static string Name(MigrationCommand command) => command switch
    {
        MigrationCommand.OpenReturnPath => "OPEN_RETURN_PATH",
        MigrationCommand.Ping => "PING",
        MigrationCommand.PostcopyAdvise => "POSTCOPY_ADVISE",
        MigrationCommand.PostcopyListen => "POSTCOPY_LISTEN",
        MigrationCommand.PostcopyRun => "POSTCOPY_RUN",
        MigrationCommand.PostcopyRamDiscard => "POSTCOPY_RAM_DISCARD",
        MigrationCommand.Packaged => "PACKAGED",
        MigrationCommand.EnableColo => "ENABLE_COLO",
        MigrationCommand.PostcopyResume => "POSTCOPY_RESUME",
        MigrationCommand.RecvBitmap => "RECV_BITMAP",
        MigrationCommand.Max => "MAX",
        _ => "INVALID",
    };
}
