using System.Buffers;
using System.IO.Pipelines;

namespace VmConsole.Migration.Wire;

/// <summary>
/// Reads QEMU 7.2's migration stream from a <see cref="PipeReader"/> and tells an <see cref="IMigrationStreamSink"/>
/// what it finds, in order. Every malformed, hostile or truncated stream ends in a <see cref="MigrationStreamException"/>
/// whose message uses QEMU's words where QEMU has them (savevm.c, ram.c).
/// </summary>
/// <remarks>
/// <para>
/// The stream: the header, the configuration section (required first, as in QEMU), then sections until EOF, then
/// optionally the JSON description. After EOF the reader waits for the description or for the end of the stream;
/// any other byte after EOF ends the read without an error (QEMU only warns "Expected vmdescription section").
/// </para>
/// <para>
/// Each buffer the pipe returns is parsed synchronously, one record after another; the reader awaits only when a record
/// is incomplete. Pages reach the sink as slices of the pipe's buffers, never copied. Length-prefixed payloads
/// (device state, description) are gathered as they arrive, bounded by <see cref="MigrationStreamLimits"/>.
/// </para>
/// <para>
/// Not thread-safe: one task runs <see cref="ReadToEndAsync"/>, once. <see cref="BytesRead"/> may be read from any thread.
/// </para>
/// </remarks>
public sealed class MigrationStreamReader
{
    private readonly PipeReader _input;
    private readonly MigrationStreamParser _parser;
    private readonly MultifdReceiver? _multifd;

    /// <summary>A RAM EOS waiting for the multifd channels: the buffer was parsed up to it and is read again after the wait.</summary>
    private Task? _barrier;

    private int _started;

    /// <summary>Written by the reading task (Volatile), read by anyone through <see cref="BytesRead"/>.</summary>
    private long _bytesRead;

    /// <param name="deviceSections">When given, device sections VmConsole does not model are cut out and kept by it (for a
    /// QEMU stream: with QEMU's description after EOF); without it they are refused.</param>
    /// <param name="returnPath">A live migration's answers to the source (OPEN_RETURN_PATH, PING); null for a file, whose
    /// return-path commands are taken and ignored.</param>
    /// <param name="capabilities">What the destination was told of the source's capabilities (the block list's extra fields).</param>
    /// <param name="multifd">The stream's multifd channels (they read their pages into the sink, which must be an
    /// <see cref="IMultifdPageSink"/>); every RAM EOS waits for their SYNCs, and a channel's failure ends the read with it.</param>
    public MigrationStreamReader(
        PipeReader input,
        IMigrationStreamSink sink,
        MigrationStreamLimits? limits = null,
        IDeviceSectionHandler? deviceSections = null,
        IMigrationReturnPath? returnPath = null,
        IncomingCapabilities? capabilities = null,
        MultifdReceiver? multifd = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(sink);
        _input = input;
        _multifd = multifd;
        _parser = new MigrationStreamParser(sink, limits ?? MigrationStreamLimits.Default, deviceSections, returnPath, capabilities, multifd);
    }

    /// <summary>Bytes consumed from the stream so far.</summary>
    public long BytesRead => Volatile.Read(ref _bytesRead);

    /// <summary>
    /// Reads the whole stream: the header, then sections until EOF and the optional description, calling the sink in
    /// order. Completes the <see cref="PipeReader"/> when done or on error: with the error (so an in-process writer's
    /// next flush throws it), or without one when canceled (the writer's flush then reports the stream closed).
    /// </summary>
    /// <exception cref="MigrationStreamException">The stream is malformed, truncated or beyond the limits, or the
    /// pipe failed; or the sink refused something (its exception passes unchanged, of whatever type).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired or the read was canceled.</exception>
    /// <exception cref="InvalidOperationException">Called a second time: a reader reads its stream once.</exception>
    public async Task ReadToEndAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A MigrationStreamReader reads its stream once.");
        }

        Exception? failure = null;
        using var linked = _multifd is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _multifd.Failed);
        var token = linked?.Token ?? cancellationToken;
        try
        {
            while (!_parser.Done)
            {
                var result = await ReadAsync(token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var consumed = Parse(buffer, result.IsCompleted);
                if (_barrier is { } barrier)
                {
                    // The bytes from the EOS on are read again once the channels have caught up.
                    _barrier = null;
                    _input.AdvanceTo(consumed);
                    await _multifd!.WaitForSyncAsync(barrier, token).ConfigureAwait(false);
                    continue;
                }

                _input.AdvanceTo(consumed, buffer.End);
            }
        }
        catch (OperationCanceledException) when (_multifd?.Error is { } channelError && !cancellationToken.IsCancellationRequested)
        {
            // A channel failed while the main stream waited for bytes: its error is the migration's.
            failure = channelError;
            throw channelError;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The writer's next flush throws this (an in-process Pipe); a canceled read just closes the stream.
            failure = ex;
            throw;
        }
        finally
        {
            _parser.Dispose();
            await _input.CompleteAsync(failure).ConfigureAwait(false);
        }
    }

    private async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken)
    {
        ReadResult result;
        try
        {
            result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or MigrationStreamException))
        {
            throw new MigrationStreamException($"migration stream failed after {BytesRead} bytes: {ex.Message}", ex);
        }

        if (result.IsCanceled)
        {
            throw new OperationCanceledException("Reading the migration stream was canceled.", cancellationToken);
        }

        return result;
    }

    /// <summary>Parses every complete record in <paramref name="buffer"/>; returns how far it consumed.</summary>
    private SequencePosition Parse(ReadOnlySequence<byte> buffer, bool isCompleted)
    {
        var reader = new SequenceReader<byte>(buffer);
        Span<byte> idStr = stackalloc byte[WireText.MaxIdStrLength];
        var start = _bytesRead;
        _parser.BeginBuffer(start);
        while (!_parser.Done)
        {
            var mark = reader.Consumed;
            if (!_parser.Step(ref reader, idStr))
            {
                // The record is incomplete, or a RAM EOS waits for the multifd channels: give its bytes back.
                reader.Rewind(reader.Consumed - mark);
                _barrier = _parser.TakeBarrier();
                break;
            }
        }

        if (!_parser.Done && isCompleted && _barrier is null)
        {
            if (_parser.KeepingTail && reader.End)
            {
                Volatile.Write(ref _bytesRead, start + reader.Consumed);
            }

            _parser.EndOfStream(reader.End, start + buffer.Length);
        }

        Volatile.Write(ref _bytesRead, start + reader.Consumed);
        return reader.Position;
    }
}
