using System.Globalization;
using VmConsole.Emulation;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Api;

/// <summary>
/// The audit log's action column, in one plain past-tense style whoever acted, through the API or the UI:
/// "Signed in", "Sign-in failed for alice", "Plugged mem1 as pc-dimm d1", "Started migration of db-1 to host-b".
/// A refused action keeps the wording of what was tried; the log's outcome column says it was refused. The pages write
/// their sentences in the same style when they hand an action to <see cref="Components.ConsoleActions"/>.
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

    /// <summary>A power action on <paramref name="vm"/>: "Paused db-1", "Shut down db-1".</summary>
    public static string Power(string? action, string vm) => action?.ToLowerInvariant() switch
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
}
