namespace VmConsole.Server.Accounts;

/// <summary>A signed-in session as the console checks it on every request.</summary>
public sealed record ConsoleSession(string Id, string UserId, string UserName, string Role, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);
