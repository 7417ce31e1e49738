using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace VmConsole.Server.Domain;

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
