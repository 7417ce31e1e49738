using System.Reflection;

namespace VmConsole.Server;

/// <summary>
/// Where the console finds appsettings.json and wwwroot/: the repository's top level, recorded at build
/// time, unless the command line or environment names another content root.
/// </summary>
public static class ContentRoot
{
    /// <summary>The repository root the server was built from, if it still holds appsettings.json.</summary>
    public static string? BuiltFrom
    {
        get
        {
            var root = typeof(ContentRoot).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "VmConsoleRoot")?.Value;
            return root is not null && File.Exists(Path.Combine(root, "appsettings.json"))
                ? Path.TrimEndingDirectorySeparator(Path.GetFullPath(root))
                : null;
        }
    }

    /// <summary>The content root to use: null leaves the choice to the host (an explicit --contentRoot or ASPNETCORE_CONTENTROOT).</summary>
    public static string? Resolve(string[] args)
    {
        var explicitRoot = args.Any(a => a.StartsWith("--contentRoot", StringComparison.OrdinalIgnoreCase))
            || Environment.GetEnvironmentVariable("ASPNETCORE_CONTENTROOT") is not null
            || Environment.GetEnvironmentVariable("DOTNET_CONTENTROOT") is not null;
        return explicitRoot ? null : BuiltFrom;
    }
}
