namespace VmConsole.Migration.Engine;

/// <summary>
/// One RAM block's share of a migration, as the stream's setup announced it. <see cref="SentBytes"/> is pages put on
/// the wire times the 4 KiB target page size, whatever their record cost (a zero page's few bytes count as a page), and
/// counts a page again each time a later pass resends it, so it reaches at least <see cref="UsedLength"/> once the
/// block has gone through. <see cref="RemainingBytes"/> is the block's dirty pages still to send, times the page size.
/// </summary>
public sealed record BlockProgress(string IdStr, long UsedLength, long SentBytes, long RemainingBytes);
