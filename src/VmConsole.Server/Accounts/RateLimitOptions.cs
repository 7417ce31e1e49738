using System.ComponentModel.DataAnnotations;

namespace VmConsole.Server.Accounts;

/// <summary>The "RateLimits" section: what unauthenticated clients may cost the console.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Requests to /api, /hubs and /account one client address may make without a session, at once.</summary>
    [Range(1, 100_000)]
    public int AnonymousBurst { get; set; } = 100;

    /// <summary>How many of those come back each second.</summary>
    [Range(1, 100_000)]
    public int AnonymousPerSecond { get; set; } = 10;

    /// <summary>Sign-in attempts (right or wrong) one client address may make at once.</summary>
    [Range(1, 10_000)]
    public int SignInBurst { get; set; } = 20;

    /// <summary>How many of those come back each minute.</summary>
    [Range(1, 10_000)]
    public int SignInPerMinute { get; set; } = 20;

    /// <summary>
    /// Audit rows that requests without a session (refused at the door, refused sign-ins, rate-limited) may add
    /// a minute, all clients together; repeats are counted in one row each, the rest in one summary row.
    /// </summary>
    [Range(1, 10_000)]
    public int UnauthenticatedAuditRowsPerMinute { get; set; } = 30;
}
