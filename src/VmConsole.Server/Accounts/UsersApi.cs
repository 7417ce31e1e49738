using System.Security.Claims;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using VmConsole.Emulation;
using VmConsole.Server.Api;

namespace VmConsole.Server.Accounts;

public sealed record UserDto(string UserName, string Role, DateTimeOffset? LockedOutUntil);

public sealed record CreateUserRequest(string? UserName, string? Password, string? Role);

public sealed record RoleRequest(string? Role);

/// <summary>Accounts, for admins: one role per user, and never a console without an admin.</summary>
internal static class UsersApi
{
    public static void MapUsersApi(this IEndpointRouteBuilder api)
    {
        var users = api.MapGroup("/users").WithTags("Accounts").RequireAuthorization(Roles.CanAdminister);
        users.MapGet("/", ListAsync);
        users.MapPost("/", CreateAsync);
        users.MapPut("/{name}/role", SetRoleAsync);
        users.MapDelete("/{name}", DeleteAsync);
    }

    private static async Task<List<UserDto>> ListAsync(UserManager<IdentityUser> users)
    {
        var all = await users.Users.OrderBy(u => u.UserName).ToListAsync();
        var result = new List<UserDto>();
        foreach (var user in all)
        {
            result.Add(await ToDtoAsync(users, user));
        }

        return result;
    }

    private static async Task<IResult> CreateAsync(CreateUserRequest request, UserManager<IdentityUser> users)
    {
        var errors = new RequestErrors();
        var name = errors.Required(request.UserName, "userName");
        var password = errors.Required(request.Password, "password");
        var role = ParseRole(request.Role, errors);
        if (name.Length > 0 && !System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z0-9][a-z0-9._-]{0,63}$"))
        {
            errors.Add("userName", "Use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        if (await users.FindByNameAsync(name) is not null)
        {
            throw EmulationException.Conflict("user-exists", $"A user named '{name}' already exists.");
        }

        var user = new IdentityUser(name);
        var created = await users.CreateAsync(user, password);
        if (!created.Succeeded)
        {
            foreach (var error in created.Errors)
            {
                errors.Add("password", error.Description);
            }

            return errors.ToResult();
        }

        await users.AddToRoleAsync(user, role);
        return TypedResults.Created($"/api/users/{name}", await ToDtoAsync(users, user));
    }

    private static async Task<IResult> SetRoleAsync(string name, RoleRequest request, UserManager<IdentityUser> users)
    {
        var errors = new RequestErrors();
        var role = ParseRole(request.Role, errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var user = await FindAsync(users, name);
        if (role != Roles.Admin)
        {
            await EnsureAnotherAdminAsync(users, user, "take the Admin role from");
        }

        await users.RemoveFromRolesAsync(user, await users.GetRolesAsync(user));
        await users.AddToRoleAsync(user, role);
        return TypedResults.Ok(await ToDtoAsync(users, user));
    }

    private static async Task<IResult> DeleteAsync(string name, UserManager<IdentityUser> users, ClaimsPrincipal me)
    {
        var user = await FindAsync(users, name);
        if (user.UserName == me.Identity?.Name)
        {
            throw EmulationException.Conflict("delete-self", "You cannot delete the account you are signed in with.");
        }

        await EnsureAnotherAdminAsync(users, user, "delete");
        await users.DeleteAsync(user);
        return Results.NoContent();
    }

    private static async Task EnsureAnotherAdminAsync(UserManager<IdentityUser> users, IdentityUser user, string what)
    {
        if (await users.IsInRoleAsync(user, Roles.Admin) && (await users.GetUsersInRoleAsync(Roles.Admin)).Count <= 1)
        {
            throw EmulationException.Conflict("last-admin", $"Cannot {what} '{user.UserName}': it is the only admin.");
        }
    }

    private static async Task<IdentityUser> FindAsync(UserManager<IdentityUser> users, string name) =>
        await users.FindByNameAsync(name) ?? throw EmulationException.NotFound("user-not-found", $"No user named '{Names.Shorten(name)}'.");

    private static string ParseRole(string? role, RequestErrors errors)
    {
        var value = errors.Required(role, "role");
        var match = Roles.All.FirstOrDefault(r => r.Equals(value, StringComparison.OrdinalIgnoreCase));
        if (value.Length > 0 && match is null)
        {
            errors.Add("role", $"'{Names.Shorten(value)}' is not a role; use Viewer, Operator or Admin.");
        }

        return match ?? "";
    }

    private static async Task<UserDto> ToDtoAsync(UserManager<IdentityUser> users, IdentityUser user) =>
        new(user.UserName!, (await users.GetRolesAsync(user)).FirstOrDefault() ?? "", user.LockoutEnd > DateTimeOffset.UtcNow ? user.LockoutEnd : null);
}
