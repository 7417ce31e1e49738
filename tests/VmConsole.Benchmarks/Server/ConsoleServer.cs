using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace VmConsole.Benchmarks.Server;

/// <summary>
/// The real console in this process on a Kestrel port on loopback (real sockets, as the browser tests use it), with
/// its SQLite database in a directory of its own under the run's scratch space. Logs go to stderr, warnings and up
/// only, so that stdout keeps the runner's table. Disposing stops the server and removes the database.
/// </summary>
internal sealed class ConsoleServer : IAsyncDisposable
{
    public const string AdminPassword = ConsoleFactory.AdminPassword;

    private readonly ConsoleFactory _factory;
    private readonly string _directory;

    private ConsoleServer(ConsoleFactory factory, string directory, Uri baseAddress)
    {
        _factory = factory;
        _directory = directory;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public IServiceProvider Services => _factory.Services;

    /// <summary>Starts a console; <paramref name="configureServices"/> runs after the console's own registrations.</summary>
    public static ConsoleServer Start(string workDirectory, Action<IServiceCollection>? configureServices = null)
    {
        var directory = Directory.CreateDirectory(Path.Combine(workDirectory, $"console-{Guid.NewGuid():N}")).FullName;
        var factory = new ConsoleFactory(
            databaseFile: Path.Combine(directory, "vmconsole.db"),
            services: configureServices,
            host: builder =>
            {
                // As deployed: Production (cached static assets, no development-time handlers).
                builder.UseEnvironment("Production");
                builder.UseSetting("Logging:LogLevel:Default", "Warning");
                builder.ConfigureLogging(logging =>
                {
                    logging.ClearProviders();
                    logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
                });
            });
        try
        {
            factory.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
            factory.StartServer();
            var addresses = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
            var server = new ConsoleServer(factory, directory, new Uri(addresses.Addresses.First()));
            Console.Error.WriteLine($"console on {server.BaseAddress} ({factory.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostEnvironment>().EnvironmentName})");
            return server;
        }
        catch
        {
            factory.Dispose();
            throw;
        }
    }

    /// <summary>The admin's auth cookie as a Cookie header value (for SignalR clients, which keep no cookies).</summary>
    public async Task<string> SignInCookieAsync(CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = BaseAddress };
        using var response = await client.PostAsJsonAsync("/api/auth/login", new { userName = "admin", password = AdminPassword }, cancellationToken);
        response.EnsureSuccessStatusCode();
        return string.Join("; ", response.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
    }

    /// <summary>An HTTP client on the real port, signed in as the admin.</summary>
    public async Task<HttpClient> CreateSignedInClientAsync(CancellationToken cancellationToken)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        try
        {
            using var response = await client.PostAsJsonAsync("/api/auth/login", new { userName = "admin", password = AdminPassword }, cancellationToken);
            response.EnsureSuccessStatusCode();
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
