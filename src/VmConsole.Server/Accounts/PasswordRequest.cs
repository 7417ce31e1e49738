namespace VmConsole.Server.Accounts;

public sealed record PasswordRequest(string? Password);
