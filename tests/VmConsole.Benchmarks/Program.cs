using System.Globalization;
using System.Reflection;
using System.Text;
using VmConsole.Benchmarks;

// dotnet run -c Release --project tests/VmConsole.Benchmarks [-- --quick] [-- --only micro,engine,qemu,qmp,qemu-migration,hub,qemu-hub,table]
// Prints one markdown table of every figure, with the machine it came from (README "Performance").
if (args is ["--child", ..])
{
    // A measurement that needs a process of its own (peak resident memory): see Engine/ChildProcess.cs.
    return await VmConsole.Benchmarks.Engine.ChildProcess.MainAsync(args);
}

var quick = args.Contains("--quick");
var onlyIndex = Array.IndexOf(args, "--only");
var only = onlyIndex >= 0 && onlyIndex + 1 < args.Length
    ? new HashSet<string>(args[onlyIndex + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase)
    : new HashSet<string>(StringComparer.OrdinalIgnoreCase);

#if DEBUG
Console.Error.WriteLine("warning: a Debug build measures nothing useful; run with -c Release.");
#endif

var work = Directory.CreateTempSubdirectory("vmconsole-bench-").FullName;
var options = new BenchmarkOptions(quick, only, work);
var suites = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IBenchmarkSuite).IsAssignableFrom(t))
    .Select(t => (IBenchmarkSuite)Activator.CreateInstance(t)!)
    .Where(s => only.Count == 0 || only.Contains(s.Name))
    .OrderBy(s => s.Order)
    .ToList();

var unknown = only.Where(name => !suites.Any(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"error: no suite named {string.Join(", ", unknown)}.");
    return 2;
}

var rows = new List<Measurement>();
var failed = false;
try
{
    foreach (var suite in suites)
    {
        Console.Error.WriteLine($"== {suite.Name}");
        try
        {
            rows.AddRange(await suite.RunAsync(options, CancellationToken.None));
        }
        catch (Exception e)
        {
            failed = true;
            Console.Error.WriteLine($"error: suite '{suite.Name}' failed: {e}");
            rows.Add(new Measurement(suite.Name, "(suite failed)", double.NaN, "", Note: e.GetType().Name + ": " + e.Message));
        }
    }
}
finally
{
    try
    {
        Directory.Delete(work, recursive: true);
    }
    catch (IOException e)
    {
        Console.Error.WriteLine($"warning: could not remove {work}: {e.Message}");
    }
}

Console.WriteLine(Table.Markdown(rows, MachineInfo.Describe(), quick));
return failed ? 1 : 0;

namespace VmConsole.Benchmarks
{
    internal static class Table
    {
        public static string Markdown(IReadOnlyList<Measurement> rows, string machine, bool quick)
        {
            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {machine}{(quick ? " (--quick: smaller sizes, not for the README)" : "")}.");
            text.AppendLine();
            text.AppendLine("| Section | Measurement | Value | Target | Met | Note |");
            text.AppendLine("|---|---|---:|---|---|---|");
            foreach (var row in rows)
            {
                var value = double.IsNaN(row.Value) ? "n/a" : Format(row.Value) + (row.Unit.Length > 0 ? " " + row.Unit : "");
                var met = row.Met switch { true => "yes", false => "**no**", null => "" };
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {row.Section} | {Escape(row.Name)} | {value} | {Escape(row.Target ?? "")} | {met} | {Escape(row.Note ?? "")} |");
            }

            return text.ToString();
        }

        private static string Format(double value) => Math.Abs(value) switch
        {
            >= 1000 => value.ToString("N0", CultureInfo.InvariantCulture),
            >= 100 => value.ToString("0.#", CultureInfo.InvariantCulture),
            >= 10 => value.ToString("0.0#", CultureInfo.InvariantCulture),
            _ => value.ToString("0.0##", CultureInfo.InvariantCulture),
        };

        private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
    }
}
