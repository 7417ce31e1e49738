using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Identity;
using VmConsole.Emulation;
using VmConsole.Server.Accounts;

namespace VmConsole.TestSupport;

/// <summary>
/// The console in process, on the content root it uses when run for real (the repository's top level),
/// or on another one given by a test. Extra settings override appsettings.json. With <c>keepDatabase</c> the
/// database outlives the console (for a graceful restart on the same file); <c>services</c> replaces services (a fake clock);
/// <c>host</c> configures the host last (the benchmarks' environment and logging).
/// </summary>
public sealed class ConsoleFactory(
    string? contentRoot = null,
    IDictionary<string, string?>? settings = null,
    string? databaseFile = null,
    bool keepDatabase = false,
    Action<IServiceCollection>? services = null,
    Action<IWebHostBuilder>? host = null)
    : WebApplicationFactory<Program>
{
    /// <summary>Each console gets its own database, so every test starts from the seed.</summary>
    public string DatabaseFile { get; } = databaseFile ?? Path.Combine(Path.GetTempPath(), $"vmconsole-test-{Guid.NewGuid():N}.db");

    public const string AdminPassword = "Test-Admin-Password-1";

    /// <summary>
    /// This console's QEMU runtime directory (its hosts' folders): its own, so that every QEMU process it starts is found
    /// and ended when it is disposed. The QEMU seed is off unless a test's settings turn it on.
    /// </summary>
    public string QemuDirectory { get; } = QemuProcess.TempDirectory();

    public Emulator Emulator => Services.GetRequiredService<Emulator>();

    /// <summary>A client holding the cookie of a user with <paramref name="role"/> (the bootstrap admin for Admin; created on demand otherwise).</summary>
    public async Task<HttpClient> CreateSignedInClientAsync(string role = Roles.Admin)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var (user, password) = role == Roles.Admin ? ("admin", AdminPassword) : await EnsureUserAsync(role);
        var response = await client.PostAsJsonAsync("/api/auth/login", new { userName = user, password });
        response.EnsureSuccessStatusCode();
        return client;
    }

    /// <summary>The auth cookie for <paramref name="role"/>, as a Cookie header value (for clients that keep no cookies, like SignalR's).</summary>
    public async Task<string> SignInCookieAsync(string role = Roles.Admin)
    {
        using var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        var (user, password) = role == Roles.Admin ? ("admin", AdminPassword) : await EnsureUserAsync(role);
        var response = await client.PostAsJsonAsync("/api/auth/login", new { userName = user, password });
        response.EnsureSuccessStatusCode();
        return string.Join("; ", response.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
    }

    private async Task<(string User, string Password)> EnsureUserAsync(string role)
    {
        var name = role.ToLowerInvariant();
        const string password = "Test-User-Password-1";
        await using var scope = Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        if (await users.FindByNameAsync(name) is null)
        {
            var user = new IdentityUser(name);
            (await users.CreateAsync(user, password)).Succeeded.ShouldBeTrue();
            (await users.AddToRoleAsync(user, role)).Succeeded.ShouldBeTrue();
        }

        return (name, password);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseContentRoot(contentRoot ?? RepositoryRoot.Path);
        builder.UseSetting("ConnectionStrings:VmConsole", $"Data Source={DatabaseFile}");
        builder.UseSetting("Auth:BootstrapAdminPassword", AdminPassword);
        builder.UseSetting("Qemu:RuntimeDirectory", QemuDirectory);
        builder.UseSetting("Qemu:Seed:Enabled", "false");
        if (settings is not null)
        {
            builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(settings));
        }

        builder.ConfigureServices(registered => registered.AddSingleton<Microsoft.AspNetCore.Hosting.IStartupFilter, TestClientAddress>());
        if (services is not null)
        {
            builder.ConfigureServices(services);
        }

        host?.Invoke(builder);
    }

    /// <summary>The header with which a test request says which client address it comes from (the test server has none).</summary>
    public const string ClientAddressHeader = "X-Test-Client-Address";

    /// <summary>A client that comes from <paramref name="address"/>, keeping its cookies.</summary>
    public HttpClient CreateClientFrom(string address)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        client.DefaultRequestHeaders.Add(ClientAddressHeader, address);
        return client;
    }

    /// <summary>Gives each test request the client address its header names, before anything else sees it.</summary>
    private sealed class TestClientAddress : Microsoft.AspNetCore.Hosting.IStartupFilter
    {
        public Action<Microsoft.AspNetCore.Builder.IApplicationBuilder> Configure(Action<Microsoft.AspNetCore.Builder.IApplicationBuilder> next) => app =>
        {
            app.Use((Microsoft.AspNetCore.Http.HttpContext context, Microsoft.AspNetCore.Http.RequestDelegate nextMiddleware) =>
            {
                if (context.Request.Headers.TryGetValue(ClientAddressHeader, out var address) && System.Net.IPAddress.TryParse(address, out var ip))
                {
                    context.Connection.RemoteIpAddress = ip;
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await QemuProcess.KillAllUnderAsync(QemuDirectory);
        if (Directory.Exists(QemuDirectory))
        {
            Directory.Delete(QemuDirectory, recursive: true);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (keepDatabase)
        {
            return;
        }

        foreach (var file in new[] { DatabaseFile, DatabaseFile + "-wal", DatabaseFile + "-shm" })
        {
            File.Delete(file);
        }
    }
}

public static class TestChecks
{
    public static void ShouldBeTrue(this bool value)
    {
        if (!value)
        {
            throw new InvalidOperationException("Test setup failed.");
        }
    }
}
