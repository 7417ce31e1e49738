using System.Globalization;
using VmConsole.Emulation;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Api;

/// <summary>
/// The audit log's action column, in one plain past-tense style whoever acted, through the API or the UI:
/// "Signed in", "Sign-in failed for alice", "Plugged mem1 as pc-dimm d1", "Started migration of db-1 to host-b".
/// A refused action keeps the wording of what was tried; the log's outcome column says it was refused.
/// </summary>
public static class AuditWording
{
    /// <summary>Where the API's audit filter leaves a call's bound arguments, for the wording of a refusal thrown later.</summary>
    internal const string ArgumentsKey = "VmConsole.AuditArguments";

    /// <summary>
    /// An API call: <paramref name="method"/> and the route pattern it matched (as <c>/api/vms/{vm}/power</c>), its route
    /// values and, when known, its bound arguments (the request bodies); <paramref name="status"/> is the answer's, when known.
    /// </summary>
    public static string ForApi(string method, string route, RouteValueDictionary values, IEnumerable<object?> arguments, int? status = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        var args = arguments.ToList();
        T? Arg<T>() where T : class => args.OfType<T>().FirstOrDefault();
        var vm = values["vm"] as string ?? "a VM";
        var block = values["block"] is { } b ? $"RAM block {Convert.ToString(b, CultureInfo.InvariantCulture)} of {vm}" : "a RAM block";
        var id = values["id"] as string ?? "";
        var name = values["name"] as string ?? "";
        return (method, route) switch
        {
            ("POST", "/api/auth/login") => SignIn(Arg<LoginRequest>()?.UserName, status),
            ("POST", "/api/auth/logout") => "Signed out",
            ("POST", "/api/auth/password") => "Changed own password",
            ("POST", "/api/vms/") or ("POST", "/api/vms") => $"Created VM {Arg<CreateVmRequest>()?.Name ?? values["vm"] as string ?? ""}".TrimEnd(),
            ("DELETE", "/api/vms/{vm}") => $"Deleted VM {vm}",
            ("POST", "/api/vms/{vm}/power") => Power(Arg<PowerRequest>()?.Action, vm),
            ("PUT", "/api/vms/{vm}/workload") => Workload(Arg<WorkloadRequest>(), vm),
            ("POST", "/api/vms/{vm}/ramblocks/") or ("POST", "/api/vms/{vm}/ramblocks") => $"Added memory backend {Arg<AddBackendRequest>()?.BackendId} to {vm}".Replace("  ", " ", StringComparison.Ordinal),
            ("DELETE", "/api/vms/{vm}/ramblocks/{block:int}") => $"Freed {block}",
            ("PUT", "/api/vms/{vm}/ramblocks/{block:int}/migratable") => Arg<MigratableRequest>()?.Migratable == false ? $"Made {block} not migratable" : $"Made {block} migratable",
            ("PUT", "/api/vms/{vm}/ramblocks/{block:int}/size") => $"Resized {block}",
            ("PUT", "/api/vms/{vm}/ramblocks/{block:int}/memory/") or ("PUT", "/api/vms/{vm}/ramblocks/{block:int}/memory") => $"Wrote guest memory of {block}",
            ("POST", "/api/vms/{vm}/devices/") or ("POST", "/api/vms/{vm}/devices") => Plug(Arg<DeviceRequest>(), vm),
            ("DELETE", "/api/vms/{vm}/devices/{id}") => $"Unplugged {id} from {vm}",
            ("POST", "/api/vms/import") => $"Imported VM {values["vm"] as string ?? "from a QEMU stream"}",
            ("POST", "/api/vms/{vm}/export") => $"Exported {vm} for QEMU",
            ("POST", "/api/vms/incoming") => $"Started receiving {Arg<IncomingMigrationRequest>()?.Name ?? values["vm"] as string ?? "a VM"} from QEMU",
            ("POST", "/api/migrations/") or ("POST", "/api/migrations") => Migration(Arg<StartMigrationRequest>(), values["vm"] as string),
            ("POST", "/api/migrations/{id}/cancel") => $"Cancelled migration {id}",
            ("POST", "/api/migrations/{id}/continue") => $"Continued migration {id}",
            ("POST", "/api/migrations/{id}/postcopy") => $"Switched migration {id} to postcopy",
            ("POST", "/api/users/") or ("POST", "/api/users") => $"Created user {Names.Shorten(Arg<CreateUserRequest>()?.UserName ?? "")}".TrimEnd(),
            ("PUT", "/api/users/{name}/role") => Arg<RoleRequest>()?.Role is { Length: > 0 } role ? $"Changed the role of {name} to {Names.Shorten(role)}" : $"Changed the role of {name}",
            ("PUT", "/api/users/{name}/password") => $"Reset the password of {name}",
            ("POST", "/api/users/{name}/unlock") => $"Unlocked sign-ins as {name}",
            ("DELETE", "/api/users/{name}") => $"Deleted user {name}",
            _ => $"Called {method} {route}",
        };
    }

    /// <summary>A sign-in: "Signed in", or why not with the name tried (cut to 64 characters), never the password.</summary>
    public static string SignIn(string? userName, int? status)
    {
        var tried = userName is null ? "" : userName.Length <= 64 ? userName : userName[..64];
        return status switch
        {
            < 400 => "Signed in",
            StatusCodes.Status429TooManyRequests => $"Sign-in held back for {tried}".TrimEnd(),
            _ => $"Sign-in failed for {tried}".TrimEnd(),
        };
    }

    /// <summary>
    /// A UI action, as the pages name it to <see cref="Components.ConsoleActions"/> (a short verb phrase: "delete VM",
    /// "power pause", "plug memory device 'd1'"), about <paramref name="target"/>.
    /// </summary>
    public static string ForUi(string operation, string target)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(target);
        const string plug = "plug memory device '";
        const string power = "power ";
        const string workload = "set workload ";
        if (operation.StartsWith(plug, StringComparison.Ordinal))
        {
            return $"Plugged {BlockName(target)} as pc-dimm {operation[plug.Length..].TrimEnd('\'')}";
        }

        if (operation.StartsWith(power, StringComparison.Ordinal))
        {
            return Power(operation[power.Length..], target);
        }

        if (operation.StartsWith(workload, StringComparison.Ordinal))
        {
            return $"Set the workload of {target} to {operation[workload.Length..]}";
        }

        return operation switch
        {
            "create VM" => $"Created VM {target}",
            "delete VM" => $"Deleted VM {target}",
            "import VM" => $"Imported VM {target}",
            "receive VM from QEMU" => $"Started receiving {target} from QEMU",
            "migrate" => $"Started migration of {target}",
            "cancel migration" => $"Cancelled migration {target}",
            "continue migration" => $"Continued migration {target}",
            "start postcopy" => $"Switched migration {target} to postcopy",
            "add memory backend" => $"Added memory backend {BlockName(target)} to {VmName(target)}",
            "set migratable" => $"Made {Block(target)} migratable",
            "unset migratable" => $"Made {Block(target)} not migratable",
            "resize" => $"Resized {Block(target)}",
            "free" => $"Freed {Block(target)}",
            "unplug" => $"Unplugged {Block(target)}",
            "create user" => $"Created user {target}",
            "set role" => $"Changed the role of {target}",
            "set password" => $"Reset the password of {target}",
            "change own password" => "Changed own password",
            "unlock user" => $"Unlocked sign-ins as {target}",
            "delete user" => $"Deleted user {target}",
            _ => $"{char.ToUpperInvariant(operation[0])}{operation[1..]} {target}".TrimEnd(),
        };
    }

    private static string Power(string? action, string vm) => action?.ToLowerInvariant() switch
    {
        "start" => $"Started {vm}",
        "pause" => $"Paused {vm}",
        "resume" => $"Resumed {vm}",
        "shutdown" => $"Shut down {vm}",
        "reset" => $"Reset {vm}",
        _ => $"Changed the power state of {vm}",
    };

    private static string Workload(WorkloadRequest? request, string vm) =>
        request?.Kind is { Length: > 0 } kind
            ? $"Set the workload of {vm} to {Names.Shorten(kind.ToLowerInvariant())}{(request.PagesPerSecond is { } rate && rate > 0 ? $" {rate.ToString("N0", CultureInfo.InvariantCulture)} pages/s" : "")}"
            : $"Set the workload of {vm}";

    private static string Plug(DeviceRequest? request, string vm) =>
        request is { Memdev: { Length: > 0 } memdev, Id: { Length: > 0 } device }
            ? $"Plugged {Names.Shorten(memdev)} as {Names.Shorten(request.Driver ?? "pc-dimm")} {Names.Shorten(device)}"
            : $"Plugged a memory device into {vm}";

    private static string Migration(StartMigrationRequest? request, string? vm)
    {
        var name = request?.Vm ?? vm ?? "a VM";
        var to = request?.DestinationHost ?? request?.Uri;
        return to is { Length: > 0 } ? $"Started migration of {Names.Shorten(name)} to {Names.Shorten(to)}" : $"Started migration of {Names.Shorten(name)}";
    }

    // A RAM block's target in the UI is "vm/block".
    private static string VmName(string target) => target.Split('/', 2)[0];

    private static string BlockName(string target) => target.Split('/', 2) is [_, var block] ? block : target;

    private static string Block(string target) => target.Split('/', 2) is [var vm, var block] ? $"{block} of {vm}" : target;
}
