using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using VmConsole.Emulation;
using VmConsole.Server.Api;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Accounts;

/// <summary>
/// What a client without a session may cost: requests to the API, the hub and the sign-in form are limited
/// per client address (a token bucket, <see cref="RateLimitOptions"/>), sign-in attempts more tightly; a
/// signed-in user is not limited here. A refused request gets 429 with Retry-After as problem details (the
/// sign-in form goes back to the sign-in page with the reason), and is audited within the bound that
/// <see cref="UnauthenticatedAudit"/> keeps.
/// </summary>
public static class RateLimits
{
    /// <summary>The policy of the sign-in routes.</summary>
    public const string SignIn = "sign-in";

    public static IServiceCollection AddConsoleRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((options, configured) =>
        {
            var limits = configured.Value;
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                http.User.Identity?.IsAuthenticated == true || !IsLimited(http.Request.Path)
                    ? RateLimitPartition.GetNoLimiter("")
                    : RateLimitPartition.GetTokenBucketLimiter(ConsoleSignIn.ClientAddress(http), _ => Bucket(limits.AnonymousBurst, limits.AnonymousPerSecond, TimeSpan.FromSeconds(1))));
            options.AddPolicy(SignIn, http => RateLimitPartition.GetTokenBucketLimiter(
                ConsoleSignIn.ClientAddress(http), _ => Bucket(limits.SignInBurst, limits.SignInPerMinute, TimeSpan.FromMinutes(1))));
            options.OnRejected = RejectAsync;
        });
        return services;
    }

    private static bool IsLimited(PathString path) =>
        path.StartsWithSegments("/api") || path.StartsWithSegments("/hubs") || path.StartsWithSegments("/account");

    private static TokenBucketRateLimiterOptions Bucket(int burst, int perPeriod, TimeSpan period) => new()
    {
        TokenLimit = burst,
        TokensPerPeriod = perPeriod,
        ReplenishmentPeriod = period,
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var http = rejected.HttpContext;
        var wait = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
        var seconds = (int)Math.Max(1, Math.Ceiling(wait.TotalSeconds));
        var detail = $"Too many requests from this address: try again in {seconds} s.";
        var (action, target, vm) = AuditApi.Describe(http, status: StatusCodes.Status429TooManyRequests);
        _ = http.RequestServices.GetRequiredService<Events.ActionLog>()
            .RecordAsync(AuditApi.UserOf(http), action, target, vm, allowed: false, ErrorCodes.RateLimited, detail, ConsoleSignIn.ClientAddress(http));

        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        if (http.Request.Path.StartsWithSegments("/account"))
        {
            http.Response.Redirect($"/login?error=throttled&wait={seconds}");
            return;
        }

        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = StatusCodes.Status429TooManyRequests, Title = "Too many requests", Detail = detail, Extensions = { ["code"] = ErrorCodes.RateLimited, ["retryAfterSeconds"] = seconds } },
        });
    }
}
