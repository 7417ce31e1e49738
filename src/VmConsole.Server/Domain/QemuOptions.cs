using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using VmConsole.Emulation.Vms;

namespace VmConsole.Server.Domain;

/// <summary>
/// The "Qemu" section: the QEMU driver's hosts (each runs real qemu-system-x86_64 processes on this machine) and the
/// QEMU VMs seeded once when QEMU is installed. A host whose binary is missing is listed as unavailable, with why.
/// </summary>
public sealed class QemuOptions : IValidatableObject
{
    public const string Section = "Qemu";

    /// <summary>The QEMU binary: a path, or a name looked up on PATH.</summary>
    [Required]
    public string Binary { get; set; } = "qemu-system-x86_64";

    /// <summary>Where each host keeps its VMs' sockets, pid files, guest images and definitions (a folder per host, mode 0700); relative to the content root.</summary>
    [Required]
    public string RuntimeDirectory { get; set; } = "data/qemu";

    /// <summary>How long a shutdown waits for the guest to power off (then <c>quit</c>), and a delete for a cancelled migration to end.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan TeardownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    [ValidateEnumeratedItems]
    public List<QemuHostOptions> Hosts { get; set; } = [];

    [ValidateObjectMembers]
    public QemuSeedOptions Seed { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var hosts = Hosts.Select(h => h.Name).ToHashSet(StringComparer.Ordinal);
        if (hosts.Count != Hosts.Count)
        {
            yield return new ValidationResult("Two QEMU hosts have the same name.", [nameof(Hosts)]);
        }

        for (var i = 0; i < Seed.Vms.Count; i++)
        {
            if (!hosts.Contains(Seed.Vms[i].Host))
            {
                yield return new ValidationResult($"The QEMU VM '{Seed.Vms[i].Name}' is seeded on host '{Seed.Vms[i].Host}', which is not a QEMU host.", [$"Seed.Vms[{i}].Host"]);
            }
        }
    }
}

public sealed class QemuHostOptions
{
    [Required]
    public string Name { get; set; } = "";

    [Range(1, 1024 * 1024)]
    public long MemoryGiB { get; set; } = 8;
}

/// <summary>QEMU VMs created once, the first time the console finds QEMU installed (a marker in the runtime directory says it did).</summary>
public sealed class QemuSeedOptions
{
    public bool Enabled { get; set; } = true;

    [ValidateEnumeratedItems]
    public List<QemuSeedVm> Vms { get; set; } = [];
}

public sealed class QemuSeedVm
{
    [Required]
    public string Name { get; set; } = "";

    [Required]
    public string Host { get; set; } = "";

    public string Machine { get; set; } = "pc";

    [Range(1, 1024 * 1024)]
    public long MemoryMiB { get; set; } = 128;

    public int Slots { get; set; }

    public long MaxMemMiB { get; set; }

    public GuestProgram Guest { get; set; } = GuestProgram.None;

    public bool Start { get; set; } = true;
}
