using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Emulation;

namespace VmConsole.Server.Tests;

/// <summary>
/// The console in process, on the content root it uses when run for real (the repository's top level),
/// or on another one given by a test. Extra settings override appsettings.json.
/// </summary>
public sealed class ConsoleFactory(string? contentRoot = null, IDictionary<string, string?>? settings = null, string? databaseFile = null) : WebApplicationFactory<Program>
{
    /// <summary>Each console gets its own database, so every test starts from the seed.</summary>
    public string DatabaseFile { get; } = databaseFile ?? Path.Combine(Path.GetTempPath(), $"vmconsole-test-{Guid.NewGuid():N}.db");

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public Emulator Emulator => Services.GetRequiredService<Emulator>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseContentRoot(contentRoot ?? RepositoryRoot);
        builder.UseSetting("ConnectionStrings:VmConsole", $"Data Source={DatabaseFile}");
        if (settings is not null)
        {
            builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(settings));
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { DatabaseFile, DatabaseFile + "-wal", DatabaseFile + "-shm" })
        {
            File.Delete(file);
        }
    }

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "VmConsole.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("VmConsole.sln not found above the test's output directory.");
    }
}
