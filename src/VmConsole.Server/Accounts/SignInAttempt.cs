namespace VmConsole.Server.Accounts;

public readonly record struct SignInAttempt(SignInOutcome Outcome, TimeSpan RetryAfter = default, string? UserName = null, string? Role = null);
