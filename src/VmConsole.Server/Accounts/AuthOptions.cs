using System.ComponentModel.DataAnnotations;

namespace VmConsole.Server.Accounts;

/// <summary>The "Auth" section.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The first admin's password; when unset, one is generated on first start and printed once.</summary>
    [MinLength(8)]
    public string? BootstrapAdminPassword { get; set; }

    /// <summary>How long a session lasts after sign-in, however active (then the user signs in again).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Wrong passwords one client may give for one account before it must wait between tries.</summary>
    [Range(1, 100)]
    public int FreeFailedSignIns { get; set; } = 5;

    /// <summary>The longest a client waits between tries: the wait doubles from 1 s with each further failure, up to this.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan MaxSignInBackoff { get; set; } = TimeSpan.FromMinutes(5);
}
