using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using VmConsole.Emulation;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Api;

public static class ApiSetup
{
    /// <summary>Problem details for every error, the domain's refusals mapped by one handler, and the OpenAPI document.</summary>
    public static IHostApplicationBuilder AddConsoleApi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ProblemDetailsExceptionHandler>();

        // A body that cannot be read throws, so the handler answers it with problem details instead of an empty 400.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.Configure<JsonOptions>(options => options.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict);
        builder.Services.AddOpenApi();
        return builder;
    }

    public static IEndpointRouteBuilder MapConsoleApi(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi();
        var api = app.MapGroup("/api").DisableAntiforgery().RequireAuthorization(Roles.CanView).WithAudit();
        api.MapAuthApi();
        api.MapHostsApi();
        api.MapVmsApi();
        api.MapRamBlocksApi();
        api.MapMemoryApi();
        api.MapQemuApi();
        api.MapMigrationsApi();
        api.MapAuditApi();
        api.MapUsersApi();
        api.MapFallback(() => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "There is no API route at this address.", extensions: new Dictionary<string, object?> { ["code"] = ErrorCodes.NoSuchRoute }));
        return app;
    }
}
