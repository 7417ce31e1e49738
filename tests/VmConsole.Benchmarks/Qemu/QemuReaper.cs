using System.Globalization;
using VmConsole.Qemu.Processes;

namespace VmConsole.Benchmarks.Qemu;

/// <summary>
/// Ends every QEMU a benchmark started, whatever happened: QEMU runs daemonized (not our child), so each runtime
/// directory handed to <see cref="QemuLauncher"/> (by the benchmark or by <c>QemuMigration</c> for its destination) is
/// remembered, and disposing kills the process named by each directory's pid file (only if its command line names that
/// directory, so that a reused pid is left alone) and waits, bounded, until it is gone.
/// </summary>
internal sealed class QemuReaper : IAsyncDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    // Added to by the benchmark's one flow; read when disposing.
    private readonly List<string> _directories = [];

    /// <summary>Remembers <paramref name="runtimeDirectory"/> and returns it.</summary>
    public string Track(string runtimeDirectory)
    {
        _directories.Add(runtimeDirectory);
        return runtimeDirectory;
    }

    /// <summary>Kills what still runs in the tracked directories and waits until it is gone.</summary>
    public async Task EndAllAsync()
    {
        var pids = _directories.Select(PidIn).OfType<int>().ToList();
        foreach (var pid in pids)
        {
            QemuInstance.Kill(pid);
        }

        var until = DateTime.UtcNow + Limit;
        while (pids.Any(QemuInstance.IsProcessAlive))
        {
            if (DateTime.UtcNow > until)
            {
                Console.Error.WriteLine($"warning: QEMU pid(s) {string.Join(", ", pids.Where(QemuInstance.IsProcessAlive))} still alive {Limit.TotalSeconds:0} s after SIGKILL.");
                return;
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync() => await EndAllAsync().ConfigureAwait(false);

    /// <summary>The live QEMU whose pid file is in <paramref name="directory"/> and whose command line names it, or null.</summary>
    private static int? PidIn(string directory)
    {
        try
        {
            var text = File.ReadAllText(Path.Combine(directory, QemuCommandLine.PidFile)).Trim();
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || !QemuInstance.IsProcessAlive(pid))
            {
                return null;
            }

            var commandLine = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            return commandLine.Contains(directory, StringComparison.Ordinal) ? pid : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
