namespace VmConsole.Server.Recording;

internal static partial class StoreLog
{
    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, Message = "The database write queue is full of progress samples; {Dropped} samples dropped so far")]
    public static partial void SamplesDropped(ILogger logger, long dropped);

    [LoggerMessage(EventId = 34, Level = LogLevel.Error, Message = "A database write batch failed; the writer goes on with the next")]
    public static partial void BatchFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 31, Level = LogLevel.Error, Message = "A database write failed")]
    public static partial void WriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 32, Level = LogLevel.Information, Message = "Restored {HostCount} hosts and {VmCount} VMs (shut off); {Interrupted} migrations interrupted by the restart marked failed")]
    public static partial void Restored(ILogger logger, int hostCount, int vmCount, int interrupted);

    [LoggerMessage(EventId = 33, Level = LogLevel.Error, Message = "VM {Vm} could not be restored")]
    public static partial void RestoreFailed(ILogger logger, string vm, Exception exception);
}
