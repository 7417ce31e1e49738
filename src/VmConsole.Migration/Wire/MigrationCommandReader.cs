using System.Buffers;
using static VmConsole.Migration.Wire.WireRead;

namespace VmConsole.Migration.Wire;

/// <summary>
/// The commands of a QEMU 7.2 stream (savevm.c <c>loadvm_process_command</c>) for the stream's parser: the return path
/// opened and pinged, POSTCOPY_ADVISE taken for a migration that stays precopy; a switch to postcopy, COLO or anything
/// else refused with QEMU's words or a sentence naming it.
/// </summary>
/// <remarks>
/// Without a return path (a file import) OPEN_RETURN_PATH and PING are taken and ignored: nobody reads an answer.
/// Used only by the task reading the stream; like the parser, a read that returns false changed nothing.
/// </remarks>
internal sealed class MigrationCommandReader(IMigrationReturnPath? returnPath, SourceCapabilities source)
{
    /// <summary>Data of the largest command taken (POSTCOPY_ADVISE: two be64).</summary>
    private const int MaxTakenLength = 16;

    private bool _advised;

    /// <summary>Whether OPEN_RETURN_PATH arrived on a stream that has a return path: the source then waits for SHUT at the end.</summary>
    public bool ReturnPathOpen { get; private set; }

    /// <summary>Reads one command after its type byte <c>0x08</c>.</summary>
    public bool TryRead(ref SequenceReader<byte> reader)
    {
        if (!reader.TryReadBigEndian(out short rawCommand) || !reader.TryReadBigEndian(out short rawLength))
        {
            return false;
        }

        var command = (MigrationCommand)(ushort)rawCommand;
        var length = (ushort)rawLength;
        if (command is MigrationCommand.Invalid or >= MigrationCommand.Max)
        {
            throw new MigrationStreamException($"MIG_CMD 0x{(ushort)command:x} unknown (len 0x{length:x})");
        }

        var expected = MigrationCommands.Length(command);
        if (expected != -1 && expected != length)
        {
            throw new MigrationStreamException(
                $"{MigrationCommands.Name(command)} received with bad length - expecting {expected}, got {length}");
        }

        Refuse(command);
        if (length > MaxTakenLength || reader.Remaining < length)
        {
            if (command == MigrationCommand.PostcopyAdvise && length > MaxTakenLength)
            {
                throw new MigrationStreamException($"CMD_POSTCOPY_ADVISE invalid length ({length})");
            }

            return false;
        }

        Span<byte> data = stackalloc byte[MaxTakenLength];
        reader.TryCopyTo(data[..length]);
        reader.Advance(length);
        Take(command, data[..length]);
        return true;
    }

    /// <summary>What VmConsole does not take, refused before its data is read.</summary>
    private static void Refuse(MigrationCommand command)
    {
        switch (command)
        {
            case MigrationCommand.PostcopyListen or MigrationCommand.PostcopyRun or MigrationCommand.PostcopyRamDiscard
                or MigrationCommand.Packaged or MigrationCommand.PostcopyResume or MigrationCommand.RecvBitmap:
                throw new MigrationStreamException(
                    $"The source switched to postcopy (command {MigrationCommands.Name(command)}): VmConsole receives precopy only. Migrate without migrate-start-postcopy; postcopy-ram may stay set.");
            case MigrationCommand.EnableColo:
                throw new MigrationStreamException(
                    "The source enabled COLO (command ENABLE_COLO): VmConsole does not take part in COLO fault tolerance. Migrate without the x-colo capability.");
        }
    }

    private void Take(MigrationCommand command, ReadOnlySpan<byte> data)
    {
        switch (command)
        {
            case MigrationCommand.OpenReturnPath:
                if (returnPath is not null && !ReturnPathOpen)
                {
                    // QEMU only reports a second OPEN_RETURN_PATH ("Not really a problem, so don't give up").
                    returnPath.Open();
                    ReturnPathOpen = true;
                }

                break;
            case MigrationCommand.Ping:
                var value = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(data);
                if (returnPath is null)
                {
                    break; // A file: nobody waits for the PONG.
                }

                if (!ReturnPathOpen)
                {
                    throw new MigrationStreamException($"CMD_PING (0x{value:x}) received with no return path");
                }

                returnPath.SendPong(value);
                break;
            case MigrationCommand.PostcopyAdvise:
                TakeAdvise(data);
                break;
        }
    }

    /// <summary>POSTCOPY_ADVISE (savevm.c <c>loadvm_postcopy_handle_advise</c>): empty without postcopy-ram, else the page size summary and target page size.</summary>
    private void TakeAdvise(ReadOnlySpan<byte> data)
    {
        if (_advised)
        {
            throw new MigrationStreamException("CMD_POSTCOPY_ADVISE in wrong postcopy state (1)");
        }

        _advised = true;
        switch (data.Length)
        {
            case 0:
                if (source.Told.PostcopyRam)
                {
                    throw new MigrationStreamException("RAM postcopy is enabled but have 0 byte advise");
                }

                return;
            case 16:
                var summary = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(data);
                var targetPageSize = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(data[8..]);
                if (targetPageSize != QemuFormat.TargetPageSize)
                {
                    throw new MigrationStreamException(
                        $"Postcopy needs matching target page sizes (s={(int)targetPageSize} d={QemuFormat.TargetPageSize})");
                }

                if (summary == 0 || summary % QemuFormat.TargetPageSize != 0)
                {
                    throw new MigrationStreamException(
                        $"Postcopy needs matching RAM page sizes (s={summary:x} d={QemuFormat.TargetPageSize:x})");
                }

                source.PostcopyRam = true;
                return;
            default:
                throw new MigrationStreamException($"CMD_POSTCOPY_ADVISE invalid length ({data.Length})");
        }
    }
}
