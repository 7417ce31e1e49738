using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Persistence;
using VmConsole.Server.Accounts;
using VmConsole.Server.Hubs;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Tests.Components;

/// <summary>
/// The component context plus what the Audit and Users pages need: the write queue (running), the recorder and its
/// hub forwarder, and Identity over the test's database as AccountsSetup registers it.
/// </summary>
public abstract class PersistedConsoleContext : ConsoleComponentContext
{
    protected ConsoleStore Store => Services.GetRequiredService<ConsoleStore>();

    protected ConsoleRecorder Recorder => Services.GetRequiredService<ConsoleRecorder>();

    protected override void AddServices(IServiceCollection services)
    {
        services.AddLogging();
        services.AddSignalR();
        services.AddSingleton<HubSubscriptions>();
        services.AddSingleton<ConsoleStore>();
        services.AddSingleton<ConsoleRecorder>();
        services.AddIdentityCore<IdentityUser>(options => options.Password.RequiredLength = 8)
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<ConsoleDbContext>();
        services.AddSingleton<SessionRegistry>();
        services.AddSingleton<SignInThrottle>();
        services.AddScoped<UserDirectory>();
    }

    public override async Task InitializeAsync()
    {
        await Store.StartAsync(CancellationToken.None);
        await using var scope = Services.CreateAsyncScope();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        foreach (var role in Roles.All)
        {
            await roles.CreateAsync(new IdentityRole(role));
        }
    }

    protected override async Task StopAsync() => await Store.StopAsync(CancellationToken.None);

    /// <summary>Adds an account directly, as the bootstrap or another admin would have.</summary>
    protected async Task AddUserAsync(string name, string role)
    {
        await using var scope = Services.CreateAsyncScope();
        var (user, errors) = await scope.ServiceProvider.GetRequiredService<UserDirectory>().CreateAsync(name, "Long-enough-1", role);
        Assert.Empty(errors);
        Assert.NotNull(user);
    }

    protected async Task<List<UserDto>> UsersAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<UserDirectory>().ListAsync();
    }
}
