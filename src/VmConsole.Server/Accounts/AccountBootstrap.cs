using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using VmConsole.Server.Events;

namespace VmConsole.Server.Accounts;

/// <summary>
/// After the database is migrated: the three roles exist, and so does one admin — user <c>admin</c> with the
/// configured password, or a generated one printed once to the console on first start. An existing admin keeps
/// its password unless <see cref="AuthOptions.ResetAdminPassword"/> is set (recovery of a lost one).
/// </summary>
internal sealed class AccountBootstrap(IServiceScopeFactory scopes, IOptions<AuthOptions> options, ActionLog audit, ILogger<AccountBootstrap> logger) : IHostedService
{
    public const string AdminUser = "admin";

    /// <summary>The audit log's name for what the console does by itself, at start.</summary>
    public const string ConsoleUser = "console";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        foreach (var role in Roles.All)
        {
            if (!await roles.RoleExistsAsync(role))
            {
                Check(await roles.CreateAsync(new IdentityRole(role)), $"create role {role}");
            }
        }

        var settings = options.Value;
        if (await users.FindByNameAsync(AdminUser) is { } existing)
        {
            if (settings.BootstrapAdminPassword is not null)
            {
                AccountLog.BootstrapPasswordIgnored(logger, AdminUser);
            }

            if (settings.ResetAdminPassword is { } reset)
            {
                await ResetAsync(scope.ServiceProvider, users, existing, reset);
            }

            return;
        }

        var password = settings.BootstrapAdminPassword ?? settings.ResetAdminPassword;
        var generated = password is null;
        password ??= Generate();
        var admin = new IdentityUser(AdminUser);
        Check(await users.CreateAsync(admin, password), "create the admin user");
        Check(await users.AddToRoleAsync(admin, Roles.Admin), "make admin an Admin");
        if (generated)
        {
            AccountLog.GeneratedAdmin(logger, AdminUser, Environment.NewLine, password);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Gives the admin the recovery password and the Admin role back, ends its sessions, and says so in the log and the audit log.</summary>
    private async Task ResetAsync(IServiceProvider services, UserManager<IdentityUser> users, IdentityUser admin, string password)
    {
        var failures = await services.GetRequiredService<UserDirectory>().SetPasswordAsync(AdminUser, password);
        if (failures.Count > 0)
        {
            throw new InvalidOperationException($"Could not set the admin's password from Auth:ResetAdminPassword: {string.Join(" ", failures)}");
        }

        if (!await users.IsInRoleAsync(admin, Roles.Admin))
        {
            await users.RemoveFromRolesAsync(admin, await users.GetRolesAsync(admin));
            Check(await users.AddToRoleAsync(admin, Roles.Admin), "make admin an Admin again");
        }

        AccountLog.AdminPasswordReset(logger, AdminUser);
        await audit.RecordAsync(
            ConsoleUser, $"Reset the password of {AdminUser} from the Auth:ResetAdminPassword setting", AdminUser, null, allowed: true,
            reason: "Remove the Auth:ResetAdminPassword setting: while it is set, every start resets the admin's password.");
    }

    /// <summary>20 characters from letters, digits and a few symbols: every class the password rules ask for.</summary>
    private static string Generate() =>
        RandomNumberGenerator.GetString("abcdefghijkmnopqrstuvwxyz", 8)
        + RandomNumberGenerator.GetString("ABCDEFGHJKLMNPQRSTUVWXYZ", 6)
        + RandomNumberGenerator.GetString("23456789", 4)
        + RandomNumberGenerator.GetString("-_.!", 2);

    private static void Check(IdentityResult result, string what)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"Could not {what}: {string.Join("; ", result.Errors.Select(e => e.Description))}");
        }
    }
}

internal static partial class AccountLog
{
    // The password stands alone on its own line, so that it is easy to copy from the console.
    [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "Created user '{User}' with the generated password below; it is shown only this once (set Auth:BootstrapAdminPassword to choose it instead):{NewLine}{Password}")]
    public static partial void GeneratedAdmin(ILogger logger, string user, string newLine, string password);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "Auth:BootstrapAdminPassword is set but ignored: user '{User}' already exists and keeps its password. Remove the setting; to recover a lost admin password, set Auth:ResetAdminPassword for one start")]
    public static partial void BootstrapPasswordIgnored(ILogger logger, string user);

    [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "Auth:ResetAdminPassword was used: user '{User}' has the password it sets, and its sessions ended. Remove the setting now: while it is set, every start resets the password")]
    public static partial void AdminPasswordReset(ILogger logger, string user);
}
