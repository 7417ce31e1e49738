using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using VmConsole.Emulation.Workloads;

namespace VmConsole.Server.Domain;

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
