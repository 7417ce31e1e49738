using System.ComponentModel.DataAnnotations;

namespace VmConsole.Server.Domain;

public sealed class SeedBackend
{
    [Required]
    public string Id { get; set; } = "";

    [Range(1, 1024 * 1024)]
    public long SizeMiB { get; set; }

    /// <summary>The pc-dimm device id to plug it as, or null to leave it unplugged.</summary>
    public string? Dimm { get; set; }
}
