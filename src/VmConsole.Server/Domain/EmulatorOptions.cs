using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

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
