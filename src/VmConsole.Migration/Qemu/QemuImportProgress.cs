namespace VmConsole.Migration.Qemu;

/// <summary>How far an import has read: <paramref name="TotalBytes"/> is known for a file, null for a live stream.</summary>
public sealed record QemuImportProgress(long BytesRead, long? TotalBytes);
