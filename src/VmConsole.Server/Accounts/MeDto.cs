namespace VmConsole.Server.Accounts;

public sealed record MeDto(string UserName, IReadOnlyList<string> Roles);
