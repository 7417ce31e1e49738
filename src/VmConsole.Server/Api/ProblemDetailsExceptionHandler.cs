using Microsoft.AspNetCore.Diagnostics;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;

namespace VmConsole.Server.Api;

/// <summary>
/// Turns what the domain refuses into RFC 9457 problem details with a machine-readable <c>code</c>
/// (DESIGN.md section 8): invalid input 400, unknown ids 404, conflicts with state 409, and a freeze refusal
/// 409 with the migration, its status, the operation and the block. Bad request bodies are 400.
/// </summary>
internal sealed class ProblemDetailsExceptionHandler(IProblemDetailsService problemDetails, Events.ActionLog log) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, code, title, detail) = exception switch
        {
            DomainException e => (StatusFor(e.Kind), e.Code, TitleFor(e.Kind), e.Message),
            BadHttpRequestException e => (e.StatusCode, ErrorCodes.BadRequest, "The request could not be read", Describe(e)),
            _ => (0, "", "", ""),
        };
        if (status == 0)
        {
            return false;
        }

        if (!HttpMethods.IsGet(httpContext.Request.Method))
        {
            var failed = httpContext.Features.Get<IExceptionHandlerFeature>();
            var (action, target, vm) = AuditApi.Describe(httpContext, failed?.Endpoint, failed?.RouteValues, status);
            var user = AuditApi.UserOf(httpContext);
            var address = Accounts.ConsoleSignIn.ClientAddress(httpContext);
            await (exception is DomainException refusal
                ? log.RefusedAsync(user, action, target, vm, refusal, address)
                : log.RecordAsync(user, action, target, vm, allowed: false, code, detail, address));
        }

        httpContext.Response.StatusCode = status;
        var problem = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail };
        problem.Extensions["code"] = code;
        if (status == StatusCodes.Status400BadRequest)
        {
            // Every 400 says which field is wrong (DESIGN.md section 8): "" when it is no one field, "$" for the body as a whole.
            problem.Extensions["errors"] = new Dictionary<string, string[]>(StringComparer.Ordinal)
            {
                [exception is DomainException invalid ? InvalidFields.FieldOf(invalid, httpContext.Request.Path) : InvalidFields.FieldOf((BadHttpRequestException)exception, httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? httpContext.GetEndpoint(), httpContext.Request, httpContext.Features.Get<IExceptionHandlerFeature>()?.RouteValues)] = [detail],
            };
        }

        if (exception is MigratableSetFrozenException frozen)
        {
            problem.Extensions["migrationId"] = frozen.MigrationId;
            problem.Extensions["migrationStatus"] = frozen.MigrationStatus;
            problem.Extensions["operation"] = frozen.Operation;
            problem.Extensions["block"] = frozen.Block;
            problem.Extensions["vm"] = frozen.Vm;
        }

        return await problemDetails.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    private static int StatusFor(ErrorKind kind) => kind switch
    {
        ErrorKind.Invalid => StatusCodes.Status400BadRequest,
        ErrorKind.NotFound => StatusCodes.Status404NotFound,
        _ => StatusCodes.Status409Conflict,
    };

    private static string TitleFor(ErrorKind kind) => kind switch
    {
        ErrorKind.Invalid => "The request is not valid",
        ErrorKind.NotFound => "Not found",
        _ => "The request conflicts with the current state",
    };

    /// <summary>The JSON reader's complaint, without the framework's type names.</summary>
    private static string Describe(BadHttpRequestException exception) => exception.InnerException switch
    {
        System.Text.Json.JsonException { Path: { Length: > 1 } path } => $"The value at '{path}' has the wrong type or is out of range for this field.",
        System.Text.Json.JsonException json => $"The body is not valid JSON: {json.Message}",
        _ => exception.Message,
    };
}
