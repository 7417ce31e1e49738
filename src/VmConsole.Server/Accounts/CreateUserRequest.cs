namespace VmConsole.Server.Accounts;

public sealed record CreateUserRequest(string? UserName, string? Password, string? Role);
