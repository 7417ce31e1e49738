namespace VmConsole.Server.Accounts;

public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);
