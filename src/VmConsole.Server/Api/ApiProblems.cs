using System.Security.Claims;
using VmConsole.Emulation;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Api;

/// <summary>Problem details the routes answer themselves (the exception handler answers domain errors).</summary>
internal static class ApiProblems
{
    public static IResult Problem(int status, string code, string detail) => TypedResults.Problem(
        statusCode: status,
        detail: detail,
        extensions: new Dictionary<string, object?> { ["code"] = code });

    /// <summary>
    /// file: writes (and unix: creates or replaces) a path on the server: that is for admins, as QEMU's own monitor
    /// is. Null when <paramref name="user"/> may use <paramref name="uri"/>, else the 403 to answer.
    /// </summary>
    public static IResult? ServerPathNeedsAdmin(string? uri, ClaimsPrincipal user, string doing) =>
        uri is not null && (uri.StartsWith("file:", StringComparison.Ordinal) || uri.StartsWith("unix:", StringComparison.Ordinal)) && !user.CanAdminister()
            ? Problem(StatusCodes.Status403Forbidden, ErrorCodes.Forbidden, $"{doing} makes a path on the server: that needs the Admin role.")
            : null;
}
