using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace VmConsole.Server.Accounts;

/// <summary>
/// After the database is migrated: the three roles exist, and so does one admin — user <c>admin</c> with the
/// configured password, or a generated one printed once to the console on first start.
/// </summary>
internal sealed class AccountBootstrap(IServiceScopeFactory scopes, IOptions<AuthOptions> options, ILogger<AccountBootstrap> logger) : IHostedService
{
    public const string AdminUser = "admin";

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

        if (await users.FindByNameAsync(AdminUser) is not null)
        {
            return;
        }

        var password = options.Value.BootstrapAdminPassword;
        var generated = password is null;
        password ??= Generate();
        var admin = new IdentityUser(AdminUser);
        Check(await users.CreateAsync(admin, password), "create the admin user");
        Check(await users.AddToRoleAsync(admin, Roles.Admin), "make admin an Admin");
        if (generated)
        {
            AccountLog.GeneratedAdmin(logger, AdminUser, password);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

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
    [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "Created user '{User}' with the generated password {Password} — it is shown only this once; set Auth:BootstrapAdminPassword to choose it instead")]
    public static partial void GeneratedAdmin(ILogger logger, string user, string password);
}
