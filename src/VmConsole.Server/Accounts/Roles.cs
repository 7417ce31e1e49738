namespace VmConsole.Server.Accounts;

/// <summary>Who may do what: Viewer reads; Operator also powers VMs and starts, cancels and continues migrations; Admin also changes VMs, blocks, devices and users.</summary>
public static class Roles
{
    public const string Viewer = "Viewer";
    public const string Operator = "Operator";
    public const string Admin = "Admin";

    public static readonly string[] All = [Viewer, Operator, Admin];

    /// <summary>Policy names, one per level; each admits the roles above it.</summary>
    public const string CanView = "can-view";
    public const string CanOperate = "can-operate";
    public const string CanAdminister = "can-administer";
}
