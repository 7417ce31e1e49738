using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using VmConsole.Emulation.Workloads;

namespace VmConsole.Server.Domain;

/// <summary>The "Emulator" section: how often dirty rates are sampled and the inventory seeded on start.</summary>
public sealed class EmulatorOptions
{
    public const string Section = "Emulator";

    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan DirtyRateInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long shutting down or deleting a migrating VM waits for its migration to let go.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan TeardownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    [ValidateObjectMembers]
    public SeedOptions Seed { get; set; } = new();
}

/// <summary>The demo inventory created when the console starts (on an empty database), so every VM's host is one of its hosts.</summary>
public sealed class SeedOptions : IValidatableObject
{
    public bool Enabled { get; set; } = true;

    [ValidateEnumeratedItems]
    public List<SeedHost> Hosts { get; set; } = [];

    [ValidateEnumeratedItems]
    public List<SeedVm> Vms { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var hosts = Hosts.Select(h => h.Name).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < Vms.Count; i++)
        {
            if (!hosts.Contains(Vms[i].Host))
            {
                yield return new ValidationResult(
                    $"The VM '{Vms[i].Name}' is seeded on host '{Vms[i].Host}', which is not one of the seeded hosts.", [$"Vms[{i}].Host"]);
            }
        }
    }
}

public sealed class SeedHost
{
    [Required]
    public string Name { get; set; } = "";

    [Range(1, 65536)]
    public long MemoryGiB { get; set; }
}

public sealed class SeedVm
{
    [Required]
    public string Name { get; set; } = "";

    [Required]
    public string Host { get; set; } = "";

    public string Machine { get; set; } = "q35";

    [Range(1, 1024 * 1024)]
    public long MemoryMiB { get; set; }

    public int Slots { get; set; }

    public long MaxMemMiB { get; set; }

    public WorkloadKind Workload { get; set; } = WorkloadKind.Idle;

    public long PagesPerSecond { get; set; }

    public bool Start { get; set; } = true;

    /// <summary>memory-backend-ram objects to add, each optionally plugged as a pc-dimm.</summary>
    [ValidateEnumeratedItems]
    public List<SeedBackend> Backends { get; set; } = [];
}

public sealed class SeedBackend
{
    [Required]
    public string Id { get; set; } = "";

    [Range(1, 1024 * 1024)]
    public long SizeMiB { get; set; }

    /// <summary>The pc-dimm device id to plug it as, or null to leave it unplugged.</summary>
    public string? Dimm { get; set; }
}
