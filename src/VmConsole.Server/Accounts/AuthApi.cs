using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using VmConsole.Emulation;
using VmConsole.Server.Api;

namespace VmConsole.Server.Accounts;

/// <summary>Sign-in for automation (/api/auth, JSON) and for the UI (/account, forms with antiforgery).</summary>
internal static class AuthApi
{
    public static void MapAuthApi(this IEndpointRouteBuilder api)
    {
        var auth = api.MapGroup("/auth").WithTags("Accounts");
        auth.MapPost("/login", LoginAsync).AllowAnonymous().RequireRateLimiting(RateLimits.SignIn)
            .WithSummary("Sign in; the answer sets the auth cookie of a new session");
        auth.MapPost("/logout", async (HttpContext http, ConsoleSignIn signIn) =>
        {
            await signIn.SignOutAsync(http);
            return Results.NoContent();
        }).WithSummary("Sign out: the session ends, and every copy of its cookie is refused from now on");
        auth.MapGet("/me", (ClaimsPrincipal user) => Me(user));
        auth.MapPost("/password", ChangePasswordAsync)
            .WithSummary("Change your own password; your other sessions end, this one goes on");
    }

    /// <summary>The sign-in page posts here; success goes back where the user was headed, failure back to the form with the reason.</summary>
    public static void MapAccountForms(this IEndpointRouteBuilder app)
    {
        var account = app.MapGroup("/account").ExcludeFromDescription();
        account.MapPost("/login", async ([FromForm] string? userName, [FromForm] string? password, [FromForm] string? returnUrl, HttpContext http, ConsoleSignIn signIn) =>
        {
            var target = IsLocal(returnUrl) ? returnUrl! : "/";
            if (string.IsNullOrEmpty(userName) || string.IsNullOrEmpty(password))
            {
                return Results.Redirect($"/login?error=missing&returnUrl={Uri.EscapeDataString(target)}");
            }

            var result = await signIn.SignInAsync(http, userName, password);
            // The form is outside the API's audit filter: its sign-ins are audited here, with the name tried and the client's address.
            var tried = userName.Length <= 64 ? userName : userName[..64];
            var address = ConsoleSignIn.ClientAddress(http);
            var status = result.Outcome switch { SignInOutcome.SignedIn => StatusCodes.Status200OK, SignInOutcome.Throttled => StatusCodes.Status429TooManyRequests, _ => StatusCodes.Status401Unauthorized };
            await http.RequestServices.GetRequiredService<Events.ActionLog>().RecordAsync(
                AuditApi.UserOf(http), AuditWording.SignIn(tried, status), "/account/login", null, result.Outcome == SignInOutcome.SignedIn,
                result.Outcome switch { SignInOutcome.SignedIn => null, SignInOutcome.Throttled => ErrorCodes.SignInThrottled, _ => ErrorCodes.InvalidCredentials },
                result.Outcome switch
                {
                    SignInOutcome.SignedIn => $"From {address}.",
                    SignInOutcome.Throttled => $"Sign-in as '{tried}' held back: too many failed sign-ins from this address.",
                    _ => $"Sign-in as '{tried}' refused: the user name or password is wrong.",
                },
                address);
            return result.Outcome switch
            {
                SignInOutcome.SignedIn => Results.LocalRedirect(target),
                SignInOutcome.Throttled => Results.Redirect($"/login?error=throttled&wait={Seconds(result.RetryAfter)}&returnUrl={Uri.EscapeDataString(target)}"),
                _ => Results.Redirect($"/login?error=invalid&returnUrl={Uri.EscapeDataString(target)}"),
            };
        }).AllowAnonymous().RequireRateLimiting(RateLimits.SignIn);
        account.MapPost("/logout", async (HttpContext http, ConsoleSignIn signIn) =>
        {
            await signIn.SignOutAsync(http);
            return Results.Redirect("/login");
        });
    }

    private static async Task<IResult> LoginAsync(LoginRequest request, HttpContext http, ConsoleSignIn signIn)
    {
        var errors = new RequestErrors();
        var userName = errors.Required(request.UserName, "userName");
        var password = errors.Required(request.Password, "password");
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var result = await signIn.SignInAsync(http, userName, password);
        switch (result.Outcome)
        {
            case SignInOutcome.SignedIn:
                return TypedResults.Ok(new MeDto(result.UserName!, result.Role is { Length: > 0 } role ? [role] : []));
            case SignInOutcome.Throttled:
                var seconds = Seconds(result.RetryAfter);
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return Results.Problem(
                    statusCode: StatusCodes.Status429TooManyRequests, title: "Too many failed sign-ins", detail: $"Too many failed sign-ins from this address: try again in {seconds} s.",
                    extensions: new Dictionary<string, object?> { ["code"] = ErrorCodes.SignInThrottled, ["retryAfterSeconds"] = seconds });
            default:
                return Problem(StatusCodes.Status401Unauthorized, ErrorCodes.InvalidCredentials, "Not signed in", "The user name or password is wrong.");
        }
    }

    private static async Task<IResult> ChangePasswordAsync(ChangePasswordRequest request, ClaimsPrincipal me, UserDirectory directory)
    {
        var errors = new RequestErrors();
        var current = errors.Required(request.CurrentPassword, "currentPassword");
        var next = errors.Required(request.NewPassword, "newPassword");
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var (currentWrong, passwordErrors) = await directory.ChangeOwnPasswordAsync(me.Identity!.Name!, current, next, keepSession: me.FindFirstValue(SessionRegistry.ClaimType));
        if (currentWrong)
        {
            errors.Add("currentPassword", "This is not your current password.");
        }

        foreach (var error in passwordErrors)
        {
            errors.Add("newPassword", error);
        }

        return errors.Any ? errors.ToResult() : Results.NoContent();
    }

    private static int Seconds(TimeSpan wait) => (int)Math.Max(1, Math.Ceiling(wait.TotalSeconds));

    private static MeDto Me(ClaimsPrincipal user) =>
        new(user.Identity?.Name ?? "", [.. Roles.All.Where(user.IsInRole)]);

    private static IResult Problem(int status, string code, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail, extensions: new Dictionary<string, object?> { ["code"] = code });

    private static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal);
}
