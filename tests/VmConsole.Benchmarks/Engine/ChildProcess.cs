using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace VmConsole.Benchmarks.Engine;

/// <summary>
/// Runs a measurement in a fresh copy of this program (<c>--child NAME ARGS...</c>), so that what it measures about the
/// process (peak resident memory) is not polluted by the suites before it. The child prints one line
/// <c>RESULT {json}</c> on stdout; its stderr goes to ours.
/// </summary>
internal static class ChildProcess
{
    private const string Prefix = "RESULT ";

    /// <summary>The child's side: Program.cs hands <c>--child ...</c> arguments here.</summary>
    public static async Task<int> MainAsync(string[] args)
    {
        if (args is not ["--child", var name, ..])
        {
            throw new ArgumentException("Expected --child NAME ...", nameof(args));
        }

        object result = name switch
        {
            EngineMacroChild.Name => await EngineMacroChild.RunAsync(
                long.Parse(args[2], CultureInfo.InvariantCulture),
                args[3],
                args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 0).ConfigureAwait(false),
            _ => throw new ArgumentException($"No child measurement named '{name}'.", nameof(args)),
        };
        Console.Out.WriteLine(Prefix + JsonSerializer.Serialize(result, result.GetType()));
        return 0;
    }

    /// <summary>The parent's side: starts the child, waits (bounded) and parses its result.</summary>
    public static async Task<T> RunAsync<T>(string name, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo { RedirectStandardOutput = true, UseShellExecute = false };
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this program is unknown.");
        info.FileName = host;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            info.ArgumentList.Add(Assembly.GetExecutingAssembly().Location);
        }

        info.ArgumentList.Add("--child");
        info.ArgumentList.Add(name);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {host}.");
        try
        {
            var output = await process.StandardOutput.ReadToEndAsync(cancellationToken).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            await process.WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            var line = output.Split('\n').LastOrDefault(l => l.StartsWith(Prefix, StringComparison.Ordinal));
            if (process.ExitCode != 0 || line is null)
            {
                throw new InvalidOperationException($"Child '{name}' exited with {process.ExitCode} and no result (see its stderr above).");
            }

            return JsonSerializer.Deserialize<T>(line[Prefix.Length..]) ?? throw new InvalidOperationException($"Child '{name}' printed an empty result.");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
    }
}
