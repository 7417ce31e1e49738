namespace VmConsole.Server.Accounts;

/// <summary>What a sign-in attempt came to.</summary>
public enum SignInOutcome
{
    SignedIn,

    /// <summary>Unknown user or wrong password: the two are never told apart.</summary>
    Invalid,

    /// <summary>The client must wait <see cref="SignInAttempt.RetryAfter"/> before its next try.</summary>
    Throttled,
}
