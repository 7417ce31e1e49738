using System.Text.Json;
using VmConsole.Emulation.Vms;
using VmConsole.Qemu.Guests;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Driver;

/// <summary>
/// A QEMU VM's definition as the driver keeps it in the VM's runtime directory (libvirt keeps its domain status the
/// same way): enough to re-attach to the process after a console restart, show the VM while it is shut off, and
/// start it again.
/// </summary>
internal sealed record QemuDomainFile(
    Guid Id, string Host, string Name, string Machine, long MemoryBytes, int Slots, long MaxMemBytes,
    IReadOnlyList<QemuMemoryBackend> Backends, GuestProgram Guest, IReadOnlyList<string>? CommandLine,
    string? MainRamBackend = null, IReadOnlyList<NumaNode>? NumaNodes = null)
{
    public const string FileName = "domain.json";

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public QemuVmSpec ToSpec() => new(Name, Machine, MemoryBytes)
    {
        Slots = Slots,
        MaxMemBytes = MaxMemBytes,
        Backends = Backends,
        MainRamBackend = MainRamBackend,
        NumaNodes = NumaNodes ?? [],
        Guest = Guest == GuestProgram.Sweep ? SweepGuest.For(MemoryBytes) : null,
    };

    public static QemuDomainFile From(Guid id, string host, QemuVmSpec spec, IReadOnlyList<string>? commandLine) => new(
        id, host, spec.Name, spec.Machine, spec.MemoryBytes, spec.Slots, spec.MaxMemBytes, spec.Backends,
        spec.Guest is null ? GuestProgram.None : GuestProgram.Sweep, commandLine, spec.MainRamBackend, spec.NumaNodes);

    /// <summary>Writes the file whole (to a temporary file, then renamed), in a directory only the console's user reads.</summary>
    public async Task SaveAsync(string directory, CancellationToken cancellationToken = default)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("QEMU hosts run on Linux only.");
        }

        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var path = Path.Combine(directory, FileName);
        var temporary = path + ".new";
        await File.WriteAllBytesAsync(temporary, JsonSerializer.SerializeToUtf8Bytes(this, Options), cancellationToken).ConfigureAwait(false);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The definition in <paramref name="directory"/>, or null when there is none or it cannot be read.</summary>
    public static async Task<QemuDomainFile?> LoadAsync(string directory, CancellationToken cancellationToken = default)
    {
        try
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(directory, FileName), cancellationToken).ConfigureAwait(false);
            return JsonSerializer.Deserialize<QemuDomainFile>(bytes, Options);
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }
    }
}
