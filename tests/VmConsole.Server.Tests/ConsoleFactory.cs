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
public sealed class ConsoleFactory(string? contentRoot = null, IDictionary<string, string?>? settings = null) : WebApplicationFactory<Program>
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public Emulator Emulator => Services.GetRequiredService<Emulator>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseContentRoot(contentRoot ?? RepositoryRoot);
        if (settings is not null)
        {
            builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(settings));
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
