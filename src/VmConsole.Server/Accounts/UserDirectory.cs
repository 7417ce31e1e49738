using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using VmConsole.Emulation;

namespace VmConsole.Server.Accounts;

/// <summary>
/// The console's accounts as admins manage them, for the Users page and the users API alike: one role per
/// user, never a console without an admin, never deleting yourself. A rule that is broken throws a domain
/// error with its code.
/// </summary>
public sealed partial class UserDirectory(UserManager<IdentityUser> users)
{
    /// <summary>Why <paramref name="name"/> cannot be a user name, or null when it can.</summary>
    public static string? CheckName(string? name) =>
        string.IsNullOrEmpty(name) || !UserNamePattern().IsMatch(name)
            ? "Use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit."
            : null;

    /// <summary>The role named <paramref name="role"/> (any case), or null when there is none.</summary>
    public static string? FindRole(string? role) => Roles.All.FirstOrDefault(r => r.Equals(role, StringComparison.OrdinalIgnoreCase));

    public async Task<List<UserDto>> ListAsync()
    {
        var all = await users.Users.OrderBy(u => u.UserName).ToListAsync();
        var result = new List<UserDto>(all.Count);
        foreach (var user in all)
        {
            result.Add(await ToDtoAsync(user));
        }

        return result;
    }

    /// <summary>Creates a user; the password's failures against the policy come back as messages, with no user created.</summary>
    public async Task<(UserDto? User, IReadOnlyList<string> PasswordErrors)> CreateAsync(string name, string password, string role)
    {
        if (CheckName(name) is { } nameError)
        {
            throw EmulationException.Invalid("invalid-user-name", nameError);
        }

        var roleName = FindRole(role) ?? throw EmulationException.Invalid("invalid-role", $"'{Names.Shorten(role)}' is not a role; use Viewer, Operator or Admin.");
        if (await users.FindByNameAsync(name) is not null)
        {
            throw EmulationException.Conflict("user-exists", $"A user named '{name}' already exists.");
        }

        var user = new IdentityUser(name);
        var created = await users.CreateAsync(user, password);
        if (!created.Succeeded)
        {
            return (null, [.. created.Errors.Select(e => e.Description)]);
        }

        await users.AddToRoleAsync(user, roleName);
        return (await ToDtoAsync(user), []);
    }

    public async Task<UserDto> SetRoleAsync(string name, string role)
    {
        var roleName = FindRole(role) ?? throw EmulationException.Invalid("invalid-role", $"'{Names.Shorten(role)}' is not a role; use Viewer, Operator or Admin.");
        var user = await FindAsync(name);
        if (roleName != Roles.Admin)
        {
            await EnsureAnotherAdminAsync(user, "take the Admin role from");
        }

        await users.RemoveFromRolesAsync(user, await users.GetRolesAsync(user));
        await users.AddToRoleAsync(user, roleName);
        return await ToDtoAsync(user);
    }

    /// <summary>Deletes <paramref name="name"/>, unless it is <paramref name="me"/> or the only admin.</summary>
    public async Task DeleteAsync(string name, string? me)
    {
        var user = await FindAsync(name);
        if (user.UserName == me)
        {
            throw EmulationException.Conflict("delete-self", "You cannot delete the account you are signed in with.");
        }

        await EnsureAnotherAdminAsync(user, "delete");
        await users.DeleteAsync(user);
    }

    /// <summary>Ends a lockout after too many failed sign-ins, and forgets the failures.</summary>
    public async Task<UserDto> UnlockAsync(string name)
    {
        var user = await FindAsync(name);
        await users.SetLockoutEndDateAsync(user, null);
        await users.ResetAccessFailedCountAsync(user);
        return await ToDtoAsync(user);
    }

    private async Task EnsureAnotherAdminAsync(IdentityUser user, string what)
    {
        if (await users.IsInRoleAsync(user, Roles.Admin) && (await users.GetUsersInRoleAsync(Roles.Admin)).Count <= 1)
        {
            throw EmulationException.Conflict("last-admin", $"Cannot {what} '{user.UserName}': it is the only admin.");
        }
    }

    private async Task<IdentityUser> FindAsync(string name) =>
        await users.FindByNameAsync(name) ?? throw EmulationException.NotFound("user-not-found", $"No user named '{Names.Shorten(name)}'.");

    private async Task<UserDto> ToDtoAsync(IdentityUser user) =>
        new(user.UserName!, (await users.GetRolesAsync(user)).FirstOrDefault() ?? "", user.LockoutEnd > DateTimeOffset.UtcNow ? user.LockoutEnd : null);

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex UserNamePattern();
}
