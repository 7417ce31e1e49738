using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.WebUtilities;
using VmConsole.Emulation;
using VmConsole.Persistence;

namespace VmConsole.Server.Accounts;

public static class AccountsSetup
{
    /// <summary>
    /// ASP.NET Core Identity in the console's database, a cookie for UI and API alike, lockout after repeated
    /// failures, and one policy per role level. API and hub calls without a cookie get 401 and with too small a
    /// role 403 (problem details); pages redirect to the sign-in page. Registered after persistence, so the
    /// bootstrap admin is created once the database is migrated.
    /// </summary>
    public static IHostApplicationBuilder AddConsoleAccounts(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var auth = builder.Configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();

        builder.Services.AddAuthentication(IdentityConstants.ApplicationScheme).AddIdentityCookies();
        builder.Services.AddIdentityCore<IdentityUser>(options =>
            {
                // No account lockout: a stranger could lock the operators out with it. SignInThrottle slows guessing instead.
                options.Lockout.AllowedForNewUsers = false;
                options.Password.RequiredLength = 8;
            })
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<ConsoleDbContext>()
            .AddSignInManager();
        builder.Services.ConfigureApplicationCookie(cookie =>
        {
            cookie.Cookie.Name = "VmConsole.Auth";
            cookie.LoginPath = "/login";
            cookie.AccessDeniedPath = "/login";
            cookie.SlidingExpiration = true;
            cookie.ExpireTimeSpan = auth.SessionLifetime;
            cookie.Events.OnValidatePrincipal = ValidateSessionAsync;
            cookie.Events.OnRedirectToLogin = context => AnswerOrRedirect(context, StatusCodes.Status401Unauthorized, ErrorCodes.NotSignedIn, "Sign in first: this needs a signed-in user.");
            cookie.Events.OnRedirectToAccessDenied = context => AnswerOrRedirect(context, StatusCodes.Status403Forbidden, ErrorCodes.Forbidden, "Your role does not allow this.");
        });
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Roles.CanView, policy => policy.RequireRole(Roles.Viewer, Roles.Operator, Roles.Admin))
            .AddPolicy(Roles.CanOperate, policy => policy.RequireRole(Roles.Operator, Roles.Admin))
            .AddPolicy(Roles.CanAdminister, policy => policy.RequireRole(Roles.Admin));
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<Microsoft.AspNetCore.Components.Authorization.AuthenticationStateProvider, SessionAuthenticationStateProvider>();
        builder.Services.AddHostedService<AccountBootstrap>();
        builder.Services.AddSingleton<SessionRegistry>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SessionRegistry>());
        builder.Services.AddSingleton<SignInThrottle>();
        builder.Services.AddScoped<ConsoleSignIn>();
        builder.Services.AddConsoleRateLimits();
        return builder;
    }

    /// <summary>
    /// Every request's cookie is honoured only while its session lives (<see cref="SessionRegistry"/>), and is
    /// authorized with the user's role now, not the one it was issued with: signing out, a password change or
    /// deleting the user make the next request 401, a demotion makes it 403.
    /// </summary>
    private static async Task ValidateSessionAsync(CookieValidatePrincipalContext context)
    {
        var sessions = context.HttpContext.RequestServices.GetRequiredService<SessionRegistry>();
        if (context.Principal?.Identity is not System.Security.Claims.ClaimsIdentity identity
            || !sessions.TryGet(identity.FindFirst(SessionRegistry.ClaimType)?.Value, out var session))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(IdentityConstants.ApplicationScheme);
            return;
        }

        if (SessionAuthenticationStateProvider.WithRole(context.Principal, session.Role) is { } updated)
        {
            context.ReplacePrincipal(updated);
            context.ShouldRenew = true;
        }
    }

    /// <summary>API and hub requests get a status and problem details; pages go to the sign-in page.</summary>
    private static async Task AnswerOrRedirect(RedirectContext<CookieAuthenticationOptions> context, int status, string code, string detail)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/api") || path.StartsWithSegments("/hubs"))
        {
            if (path.StartsWithSegments("/api"))
            {
                // A refusal at the door is a refusal like any other: who tried what (DESIGN.md section 7).
                var (action, target, vm) = Api.AuditApi.Describe(context.HttpContext, status: status);
                await context.HttpContext.RequestServices.GetRequiredService<Events.ActionLog>()
                    .RecordAsync(Api.AuditApi.UserOf(context.HttpContext), action, target, vm, allowed: false, code, detail, ConsoleSignIn.ClientAddress(context.HttpContext));
            }

            context.Response.StatusCode = status;
            var problems = context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>();
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context.HttpContext,
                ProblemDetails = { Status = status, Title = status == 401 ? "Not signed in" : "Forbidden", Detail = detail, Extensions = { ["code"] = code } },
            });
            return;
        }

        // A signed-in user whose role does not reach the page is told so on the sign-in page.
        context.Response.Redirect(status == StatusCodes.Status403Forbidden ? QueryHelpers.AddQueryString(context.RedirectUri, "error", "forbidden") : context.RedirectUri);
    }
}
