using System.Text.Json;
using VmConsole.Migration.Engine;

namespace VmConsole.Qemu.Driver;

/// <summary>
/// Written in a migration's destination directory while the migration runs: which migration the QEMU there receives,
/// for which VM and from which host, with what parameters. A console that restarts mid-migration finds it and follows
/// the migration to its end (libvirt recovers its jobs the same way); it goes once the VM has moved or the
/// destination was discarded.
/// </summary>
internal sealed record QemuIncomingFile(
    string MigrationId, string VmName, Guid DomainId, string SourceHost, MigrationParameters Parameters, MigrationCapabilities Capabilities)
{
    public const string FileName = "incoming.json";

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public async Task SaveAsync(string directory, CancellationToken cancellationToken = default)
    {
        var path = Path.Combine(directory, FileName);
        await File.WriteAllBytesAsync(path + ".new", JsonSerializer.SerializeToUtf8Bytes(this, Options), cancellationToken).ConfigureAwait(false);
        File.Move(path + ".new", path, overwrite: true);
    }

    public static async Task<QemuIncomingFile?> LoadAsync(string directory, CancellationToken cancellationToken = default)
    {
        try
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(directory, FileName), cancellationToken).ConfigureAwait(false);
            return JsonSerializer.Deserialize<QemuIncomingFile>(bytes, Options);
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }
    }

    public static void Delete(string directory)
    {
        try
        {
            File.Delete(Path.Combine(directory, FileName));
        }
        catch (IOException)
        {
            // Gone with its directory.
        }
    }
}
