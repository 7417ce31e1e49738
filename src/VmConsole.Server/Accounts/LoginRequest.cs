namespace VmConsole.Server.Accounts;

public sealed record LoginRequest(string? UserName, string? Password);
