using System.Globalization;
using VmConsole.Qemu.Qmp;

namespace VmConsole.Qemu.Processes;

/// <summary>
/// A running QEMU the console started (daemonized: not the console's child, it outlives the console) and the console's
/// connection to its monitor. Disposing closes the connection only; <see cref="QuitAsync"/> ends the process.
/// </summary>
public sealed class QemuInstance(int pid, string runtimeDirectory, IReadOnlyList<string> commandLine, QmpClient qmp) : IAsyncDisposable
{
    public int Pid { get; } = pid;

    /// <summary>Where its monitor socket and pid file are (readable by the console's user only).</summary>
    public string RuntimeDirectory { get; } = runtimeDirectory;

    /// <summary>The arguments it was started with, after the binary (for the VM page's "Show command").</summary>
    public IReadOnlyList<string> CommandLine { get; } = commandLine;

    public QmpClient Qmp { get; } = qmp;

    /// <summary>Whether the process is alive (a zombie not yet reaped counts as gone).</summary>
    public bool IsAlive => IsProcessAlive(Pid);

    /// <summary>Sends <c>quit</c> and waits (bounded) until the process is gone; kills it if it will not go.</summary>
    public async Task QuitAsync(TimeSpan limit, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        time ??= TimeProvider.System;
        try
        {
            await Qmp.ExecuteAsync("quit", cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (QmpDisconnectedException)
        {
            // It went while being asked: what follows checks that it is gone.
        }

        var until = time.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20), time);
        while (IsAlive && time.GetElapsedTime(until) < limit)
        {
            await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }

        if (IsAlive)
        {
            Kill();
        }
    }

    /// <summary>SIGKILL, for a QEMU that does not answer; the monitor connection ends with it.</summary>
    public void Kill() => Kill(Pid);

    /// <summary>SIGKILL to QEMU process <paramref name="pid"/>, if it still exists.</summary>
    public static void Kill(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            process.Kill();
        }
        catch (ArgumentException)
        {
            // Already gone.
        }
    }

    public ValueTask DisposeAsync() => Qmp.DisposeAsync();

    /// <summary>Whether <paramref name="pid"/> is a live process (its /proc entry exists and it is not a zombie).</summary>
    public static bool IsProcessAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");

            // "PID (comm) STATE ...": the state follows the last ')'.
            var state = stat[(stat.LastIndexOf(')') + 2)..];
            return state.Length > 0 && state[0] is not ('Z' or 'X');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
