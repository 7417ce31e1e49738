using Microsoft.EntityFrameworkCore;
using VmConsole.Persistence;
using VmConsole.Server.Events;

namespace VmConsole.Server.Api;

internal static class AuditApi
{
    public const int PageSize = 50;

    public static void MapAuditApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/audit", ListAsync).WithTags("Audit").WithSummary("The audit log, newest first: who did what to what, allowed or refused and why");
    }

    /// <summary>Records every API call that changes something, allowed or not (refusals thrown as exceptions are recorded by the exception handler).</summary>
    public static RouteGroupBuilder WithAudit(this RouteGroupBuilder group)
    {
        group.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            // The request bodies, for the wording of a refusal the exception handler records.
            http.Items[AuditWording.ArgumentsKey] = context.Arguments;
            var result = await next(context);
            if (!HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method))
            {
                var status = result is IStatusCodeHttpResult { StatusCode: { } code } ? code : StatusCodes.Status200OK;
                var problem = (result as IValueHttpResult)?.Value as Microsoft.AspNetCore.Mvc.ProblemDetails;
                var log = http.RequestServices.GetRequiredService<ActionLog>();
                var (action, target, vm) = Describe(http, status: status);
                var address = Accounts.ConsoleSignIn.ClientAddress(http);
                await log.RecordAsync(
                    UserOf(http), action, target, vm, status < 400,
                    status < 400 ? null : problem?.Extensions.TryGetValue("code", out var problemCode) == true ? problemCode as string : $"http-{status}",
                    status < 400 ? (action == AuditWording.SignIn(null, status) ? $"From {address}." : null) : problem?.Detail ?? $"HTTP {status}",
                    address);
            }

            return result;
        });
        return group;
    }

    /// <summary>
    /// The call as the audit log names it (<see cref="AuditWording"/>); <paramref name="endpoint"/> and <paramref name="routeValues"/> default to
    /// the request's (an exception handler passes the ones the failed request had); <paramref name="status"/> is the answer's, when known.
    /// </summary>
    public static (string Action, string Target, string? Vm) Describe(HttpContext http, Endpoint? endpoint = null, RouteValueDictionary? routeValues = null, int? status = null)
    {
        var route = ((endpoint ?? http.GetEndpoint()) as RouteEndpoint)?.RoutePattern.RawText ?? http.Request.Path.Value ?? "";
        var values = routeValues ?? http.Request.RouteValues;
        var arguments = http.Items.TryGetValue(AuditWording.ArgumentsKey, out var stored) && stored is IList<object?> bound ? bound : [];
        return (AuditWording.ForApi(http.Request.Method, route, values, arguments, status), http.Request.Path.Value ?? "", values["vm"] as string);
    }

    public static string UserOf(HttpContext http) => http.User.Identity is { IsAuthenticated: true, Name: { } name } ? name : ActionLog.Anonymous;


    private static async Task<IResult> ListAsync(IDbContextFactory<ConsoleDbContext> contexts, string? vm, string? outcome, int? page, CancellationToken cancellationToken)
    {
        var errors = new RequestErrors();
        if (outcome is not null and not ("allowed" or "refused"))
        {
            errors.Add("outcome", "'outcome' is allowed or refused.");
        }

        errors.VmName(vm, "vm");
        var number = errors.InRange(page, "page", 1, 1_000_000, required: false);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.AuditLog.AsNoTracking().Where(a => vm == null || a.Vm == vm);
        if (outcome is not null)
        {
            var allowed = outcome == "allowed";
            query = query.Where(a => a.Allowed == allowed);
        }

        var entries = await query.OrderByDescending(a => a.Id).Skip((int)(Math.Max(number, 1) - 1) * PageSize).Take(PageSize).ToListAsync(cancellationToken);
        return TypedResults.Ok(entries);
    }
}
