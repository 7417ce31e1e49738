namespace VmConsole.Server.Accounts;

/// <summary>A user: role, until when some client is held back from signing in as it after failed tries, and how many sessions it has.</summary>
public sealed record UserDto(string UserName, string Role, DateTimeOffset? SignInHeldBackUntil, int Sessions);
