namespace VmConsole.Migration.Wire;

/// <summary>
/// The destination's answers to the source on the migration's own socket (QEMU's return path, migration.c
/// <c>migrate_send_rp_message</c>: be16 type, be16 length, data). A file import has none.
/// </summary>
/// <remarks>Called by the task reading the stream.</remarks>
public interface IMigrationReturnPath
{
    /// <summary>OPEN_RETURN_PATH arrived: from now on the source reads the answers, and waits for SHUT at the end.</summary>
    void Open();

    /// <summary>Answers a PING with a PONG carrying the same value.</summary>
    void SendPong(uint value);
}
