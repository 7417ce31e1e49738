using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using VmConsole.Emulation;

namespace VmConsole.Server.Accounts;

/// <summary>
/// The console's accounts as admins manage them, for the Users page and the users API alike: one role per
/// user, never a console without an admin, never deleting yourself. A rule that is broken throws a domain
/// error with its code. Each change reaches the user's sessions before the call returns: a new role applies to
/// the next request, a new password or the deletion ends them.
/// </summary>
public sealed partial class UserDirectory(UserManager<IdentityUser> users, SessionRegistry sessions, SignInThrottle throttle)
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
            throw DomainException.Invalid(ErrorCodes.InvalidUserName, nameError);
        }

        var roleName = FindRole(role) ?? throw DomainException.Invalid(ErrorCodes.InvalidRole, $"'{Names.Shorten(role)}' is not a role; use Viewer, Operator or Admin.");
        if (await users.FindByNameAsync(name) is not null)
        {
            throw DomainException.Conflict(ErrorCodes.UserExists, $"A user named '{name}' already exists.");
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
        var roleName = FindRole(role) ?? throw DomainException.Invalid(ErrorCodes.InvalidRole, $"'{Names.Shorten(role)}' is not a role; use Viewer, Operator or Admin.");
        var user = await FindAsync(name);
        if (roleName != Roles.Admin)
        {
            await EnsureAnotherAdminAsync(user, "take the Admin role from");
        }

        await users.RemoveFromRolesAsync(user, await users.GetRolesAsync(user));
        await users.AddToRoleAsync(user, roleName);
        await sessions.SetRoleAsync(user.Id, roleName);
        return await ToDtoAsync(user);
    }

    /// <summary>
    /// Gives <paramref name="name"/> a new password and ends the user's sessions but <paramref name="keepSession"/>
    /// (the caller's own, when users change their own password). The password's failures against the policy
    /// come back as messages, with nothing changed.
    /// </summary>
    public async Task<IReadOnlyList<string>> SetPasswordAsync(string name, string password, string? keepSession = null)
    {
        var user = await FindAsync(name);
        var failures = new List<string>();
        foreach (var validator in users.PasswordValidators)
        {
            var result = await validator.ValidateAsync(users, user, password);
            failures.AddRange(result.Errors.Select(e => e.Description));
        }

        if (failures.Count > 0)
        {
            return failures;
        }

        user.PasswordHash = users.PasswordHasher.HashPassword(user, password);
        // One update: the new hash and a new security stamp, so that a sign-in checked against the old password cannot start a session.
        var updated = await users.UpdateSecurityStampAsync(user);
        if (!updated.Succeeded)
        {
            return [.. updated.Errors.Select(e => e.Description)];
        }

        await sessions.EndAllAsync(user.Id, except: keepSession);
        return [];
    }

    /// <summary>
    /// Users changing their own password: <paramref name="current"/> must be it. The other sessions end, <paramref name="keepSession"/>
    /// goes on. Nothing changes when the current password is wrong or the new one breaks the policy (its messages come back).
    /// </summary>
    public async Task<(bool CurrentWrong, IReadOnlyList<string> PasswordErrors)> ChangeOwnPasswordAsync(string name, string current, string next, string? keepSession)
    {
        var user = await FindAsync(name);
        // Identity checks the current password, the policy, and writes the hash with a new security stamp in one update.
        var changed = await users.ChangePasswordAsync(user, current, next);
        if (!changed.Succeeded)
        {
            var mismatch = nameof(IdentityErrorDescriber.PasswordMismatch);
            return (changed.Errors.Any(e => e.Code == mismatch), [.. changed.Errors.Where(e => e.Code != mismatch).Select(e => e.Description)]);
        }

        await sessions.EndAllAsync(user.Id, except: keepSession);
        return (false, []);
    }

    /// <summary>Deletes <paramref name="name"/>, unless it is <paramref name="me"/> or the only admin.</summary>
    public async Task DeleteAsync(string name, string? me)
    {
        var user = await FindAsync(name);
        if (user.UserName == me)
        {
            throw DomainException.Conflict(ErrorCodes.DeleteSelf, "You cannot delete the account you are signed in with.");
        }

        await EnsureAnotherAdminAsync(user, "delete");
        await users.DeleteAsync(user);
        await sessions.EndAllAsync(user.Id);
    }

    /// <summary>Forgets every client's failed sign-ins as this user, so that none is held back any longer.</summary>
    public async Task<UserDto> UnlockAsync(string name)
    {
        var user = await FindAsync(name);
        throttle.Forgive(user.UserName!);
        return await ToDtoAsync(user);
    }

    private async Task EnsureAnotherAdminAsync(IdentityUser user, string what)
    {
        if (await users.IsInRoleAsync(user, Roles.Admin) && (await users.GetUsersInRoleAsync(Roles.Admin)).Count <= 1)
        {
            throw DomainException.Conflict(ErrorCodes.LastAdmin, $"Cannot {what} '{user.UserName}': it is the only admin.");
        }
    }

    private async Task<IdentityUser> FindAsync(string name) =>
        await users.FindByNameAsync(name) ?? throw DomainException.NotFound(ErrorCodes.UserNotFound, $"No user named '{Names.Shorten(name)}'.");

    private async Task<UserDto> ToDtoAsync(IdentityUser user) =>
        new(user.UserName!, (await users.GetRolesAsync(user)).FirstOrDefault() ?? "", throttle.HeldBackUntil(user.UserName!), sessions.OfUser(user.UserName!).Count);

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex UserNamePattern();
}
