namespace VmConsole.Server.Accounts;

public sealed record RoleRequest(string? Role);
