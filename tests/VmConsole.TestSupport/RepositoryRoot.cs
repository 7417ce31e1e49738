namespace VmConsole.TestSupport;

/// <summary>
/// The repository's top level (the folder of VmConsole.sln): the server's content root as it runs for real, and the
/// parent of artifacts/. Found by walking up from the test's (or the benchmark's) output directory.
/// </summary>
public static class RepositoryRoot
{
    public const string SolutionFile = "VmConsole.sln";

    private static readonly Lazy<string?> Found = new(() => Find(AppContext.BaseDirectory));

    /// <summary>The top level; throws when no folder above the output directory holds <see cref="SolutionFile"/>.</summary>
    public static string Path => Found.Value
        ?? throw new InvalidOperationException($"{SolutionFile} not found above the output directory {AppContext.BaseDirectory}.");

    /// <summary>The top level, or null when the output directory is not inside the repository (a copied build).</summary>
    public static string? TryFind() => Found.Value;

    private static string? Find(string start)
    {
        var dir = new DirectoryInfo(start);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, SolutionFile)))
        {
            dir = dir.Parent;
        }

        return dir?.FullName;
    }
}
