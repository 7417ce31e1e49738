using System.ComponentModel.DataAnnotations;

namespace VmConsole.Server.Accounts;

/// <summary>The "Auth" section.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The first admin's password; when unset, one is generated on first start and printed once.</summary>
    [MinLength(8)]
    public string? BootstrapAdminPassword { get; set; }

    [Range(1, 100)]
    public int MaxFailedAccessAttempts { get; set; } = 5;

    [Range(typeof(TimeSpan), "00:00:05", "1.00:00:00")]
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(5);
}
