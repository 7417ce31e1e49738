using System.ComponentModel.DataAnnotations;

namespace VmConsole.Server.Domain;

public sealed class SeedHost
{
    [Required]
    public string Name { get; set; } = "";

    [Range(1, 65536)]
    public long MemoryGiB { get; set; }
}
