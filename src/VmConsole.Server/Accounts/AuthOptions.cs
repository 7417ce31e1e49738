using System.ComponentModel.DataAnnotations;

namespace VmConsole.Server.Accounts;

/// <summary>The "Auth" section.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The first admin's password; when unset, one is generated on first start and printed once.</summary>
    [MinLength(8)]
    public string? BootstrapAdminPassword { get; set; }

    /// <summary>
    /// Recovery for a lost admin password: at each start, user <c>admin</c> gets this password (and the Admin role
    /// back), with a warning in the log and a line in the audit log. Remove it once signed in.
    /// </summary>
    [MinLength(8)]
    public string? ResetAdminPassword { get; set; }

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
