using System.Security.Claims;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using VmConsole.Server.Api;

namespace VmConsole.Server.Accounts;

public sealed record LoginRequest(string? UserName, string? Password);

public sealed record MeDto(string UserName, IReadOnlyList<string> Roles);

/// <summary>Sign-in for automation (/api/auth, JSON) and for the UI (/account, forms with antiforgery).</summary>
internal static class AuthApi
{
    public static void MapAuthApi(this IEndpointRouteBuilder api)
    {
        var auth = api.MapGroup("/auth").WithTags("Accounts");
        auth.MapPost("/login", LoginAsync).AllowAnonymous().WithSummary("Sign in; the answer sets the auth cookie");
        auth.MapPost("/logout", async (SignInManager<IdentityUser> signIn) =>
        {
            await signIn.SignOutAsync();
            return Results.NoContent();
        });
        auth.MapGet("/me", (ClaimsPrincipal user) => Me(user));
    }

    /// <summary>The sign-in page posts here; success goes back where the user was headed, failure back to the form with the reason.</summary>
    public static void MapAccountForms(this IEndpointRouteBuilder app)
    {
        var account = app.MapGroup("/account").ExcludeFromDescription();
        account.MapPost("/login", async ([FromForm] string? userName, [FromForm] string? password, [FromForm] string? returnUrl, SignInManager<IdentityUser> signIn) =>
        {
            var target = IsLocal(returnUrl) ? returnUrl! : "/";
            if (string.IsNullOrEmpty(userName) || string.IsNullOrEmpty(password))
            {
                return Results.Redirect($"/login?error=missing&returnUrl={Uri.EscapeDataString(target)}");
            }

            var result = await signIn.PasswordSignInAsync(userName, password, isPersistent: false, lockoutOnFailure: true);
            return result.Succeeded
                ? Results.LocalRedirect(target)
                : Results.Redirect($"/login?error={(result.IsLockedOut ? "locked" : "invalid")}&returnUrl={Uri.EscapeDataString(target)}");
        }).AllowAnonymous();
        account.MapPost("/logout", async (SignInManager<IdentityUser> signIn) =>
        {
            await signIn.SignOutAsync();
            return Results.Redirect("/login");
        });
    }

    private static async Task<IResult> LoginAsync(LoginRequest request, SignInManager<IdentityUser> signIn, UserManager<IdentityUser> users)
    {
        var errors = new RequestErrors();
        var userName = errors.Required(request.UserName, "userName");
        var password = errors.Required(request.Password, "password");
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var result = await signIn.PasswordSignInAsync(userName, password, isPersistent: false, lockoutOnFailure: true);
        if (result.IsLockedOut)
        {
            return Problem(StatusCodes.Status423Locked, "locked-out", "Account locked", "Too many failed sign-ins: this account is locked for a while.");
        }

        if (!result.Succeeded)
        {
            return Problem(StatusCodes.Status401Unauthorized, "invalid-credentials", "Not signed in", "The user name or password is wrong.");
        }

        var user = await users.FindByNameAsync(userName);
        return TypedResults.Ok(new MeDto(user!.UserName!, [.. await users.GetRolesAsync(user)]));
    }

    private static MeDto Me(ClaimsPrincipal user) =>
        new(user.Identity?.Name ?? "", [.. Roles.All.Where(user.IsInRole)]);

    private static IResult Problem(int status, string code, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail, extensions: new Dictionary<string, object?> { ["code"] = code });

    private static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal);
}
