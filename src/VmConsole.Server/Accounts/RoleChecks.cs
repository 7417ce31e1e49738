namespace VmConsole.Server.Accounts;

public static class RoleChecks
{
    /// <summary>Operator or Admin: may power VMs and start, cancel or continue migrations.</summary>
    public static bool CanOperate(this System.Security.Claims.ClaimsPrincipal user) =>
        user.IsInRole(Roles.Operator) || user.IsInRole(Roles.Admin);

    public static bool CanAdminister(this System.Security.Claims.ClaimsPrincipal user) => user.IsInRole(Roles.Admin);
}
