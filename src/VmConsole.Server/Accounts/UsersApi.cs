using System.Security.Claims;
using VmConsole.Emulation;
using VmConsole.Server.Api;

namespace VmConsole.Server.Accounts;

/// <summary>Accounts, for admins: one role per user, and never a console without an admin.</summary>
internal static class UsersApi
{
    public static void MapUsersApi(this IEndpointRouteBuilder api)
    {
        var users = api.MapGroup("/users").WithTags("Accounts").RequireAuthorization(Roles.CanAdminister);
        users.MapGet("/", (UserDirectory directory) => directory.ListAsync());
        users.MapPost("/", CreateAsync);
        users.MapPut("/{name}/role", SetRoleAsync);
        users.MapPut("/{name}/password", SetPasswordAsync).WithSummary("Set a user's password; ends every session of that user");
        users.MapPost("/{name}/unlock", (string name, UserDirectory directory) => directory.UnlockAsync(name)).WithSummary("Forget failed sign-ins as this user, so that no client is held back");
        users.MapDelete("/{name}", async (string name, UserDirectory directory, ClaimsPrincipal me) =>
        {
            await directory.DeleteAsync(name, me.Identity?.Name);
            return Results.NoContent();
        });
    }

    private static async Task<IResult> CreateAsync(CreateUserRequest request, UserDirectory directory)
    {
        var errors = new RequestErrors();
        var name = errors.Required(request.UserName, "userName");
        var password = errors.Required(request.Password, "password");
        var role = ParseRole(request.Role, errors);
        if (name.Length > 0 && UserDirectory.CheckName(name) is { } nameError)
        {
            errors.Add("userName", nameError);
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var (user, passwordErrors) = await directory.CreateAsync(name, password, role);
        if (user is null)
        {
            foreach (var error in passwordErrors)
            {
                errors.Add("password", error);
            }

            return errors.ToResult();
        }

        return TypedResults.Created($"/api/users/{name}", user);
    }

    private static async Task<IResult> SetRoleAsync(string name, RoleRequest request, UserDirectory directory)
    {
        var errors = new RequestErrors();
        var role = ParseRole(request.Role, errors);
        return errors.Any ? errors.ToResult() : TypedResults.Ok(await directory.SetRoleAsync(name, role));
    }

    private static async Task<IResult> SetPasswordAsync(string name, PasswordRequest request, UserDirectory directory)
    {
        var errors = new RequestErrors();
        var password = errors.Required(request.Password, "password");
        if (errors.Any)
        {
            return errors.ToResult();
        }

        foreach (var error in await directory.SetPasswordAsync(name, password))
        {
            errors.Add("password", error);
        }

        return errors.Any ? errors.ToResult() : Results.NoContent();
    }

    private static string ParseRole(string? role, RequestErrors errors)
    {
        var value = errors.Required(role, "role");
        var match = UserDirectory.FindRole(value);
        if (value.Length > 0 && match is null)
        {
            errors.Add("role", $"'{Names.Shorten(value)}' is not a role; use Viewer, Operator or Admin.");
        }

        return match ?? "";
    }
}
