using System.Diagnostics;
using System.Globalization;
using VmConsole.Qemu.Qmp;

namespace VmConsole.Qemu.Processes;

/// <summary>
/// Starts QEMU VMs: builds the command line (<see cref="QemuCommandLine"/>), makes the VM's runtime directory
/// (mode 0700: its monitor socket lets whoever opens it control the guest), runs <c>qemu-system-x86_64</c>
/// daemonized (its first process exits once the guest is set up, with QEMU's error on stderr if it could not), reads
/// the pid file and connects to the monitor.
/// </summary>
public sealed class QemuLauncher(string binary, TimeProvider? time = null)
{
    public const string DefaultBinary = "qemu-system-x86_64";

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>How long QEMU may take to set the guest up and daemonize.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public string Binary { get; } = binary;

    /// <summary>The binary on the PATH, or null when QEMU is not installed (QEMU hosts are then unavailable, with that reason).</summary>
    public static string? FindBinary(string name = DefaultBinary)
    {
        if (Path.IsPathRooted(name))
        {
            return File.Exists(name) ? name : null;
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// Re-attaches to a QEMU this console started earlier (before a restart): reads the pid file in
    /// <paramref name="runtimeDirectory"/>, checks the process is alive, connects to its monitor. Null when the process
    /// is gone (the VM is then shut off).
    /// </summary>
    /// <exception cref="QemuStartException">The process runs but its monitor does not answer.</exception>
    public async Task<QemuInstance?> AttachAsync(string runtimeDirectory, IReadOnlyList<string> commandLine, CancellationToken cancellationToken = default)
    {
        if (await ReadPidAsync(runtimeDirectory, cancellationToken).ConfigureAwait(false) is not { } pid || !QemuInstance.IsProcessAlive(pid))
        {
            return null;
        }

        try
        {
            return new QemuInstance(pid, runtimeDirectory, commandLine, await ConnectAsync(runtimeDirectory, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is QmpDisconnectedException or QmpTimeoutException)
        {
            throw new QemuStartException($"QEMU pid {pid} runs but its monitor in {runtimeDirectory} did not answer: {ex.Message}", ex);
        }
    }

    /// <exception cref="VmConsole.Emulation.DomainException">The spec is not valid.</exception>
    /// <exception cref="QemuStartException">QEMU is missing, refused the command line, or did not come up in time.</exception>
    public async Task<QemuInstance> StartAsync(QemuVmSpec spec, string runtimeDirectory, CancellationToken cancellationToken = default)
    {
        var args = QemuCommandLine.Build(spec, runtimeDirectory);
        if (OperatingSystem.IsWindows())
        {
            throw new QemuStartException("QEMU VMs run on Linux hosts only.");
        }

        Directory.CreateDirectory(runtimeDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(runtimeDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.Delete(Path.Combine(runtimeDirectory, QemuCommandLine.PidFile));
        if (spec.Guest is not null)
        {
            await File.WriteAllBytesAsync(Path.Combine(runtimeDirectory, QemuCommandLine.GuestImageFile), spec.Guest.Image(), cancellationToken).ConfigureAwait(false);
        }

        var info = new ProcessStartInfo(Binary) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        Process first;
        try
        {
            first = Process.Start(info) ?? throw new QemuStartException($"{Binary} did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new QemuStartException($"{Binary} could not be run: {ex.Message}.", ex);
        }

        using (first)
        {
            var stderr = first.StandardError.ReadToEndAsync(cancellationToken);
            _ = first.StandardOutput.ReadToEndAsync(cancellationToken);
            try
            {
                await first.WaitForExitAsync(cancellationToken).WaitAsync(StartTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                first.Kill(entireProcessTree: true);
                throw new QemuStartException($"QEMU did not set up VM '{spec.Name}' within {StartTimeout.TotalSeconds:0} s.");
            }

            if (first.ExitCode != 0)
            {
                var words = (await stderr.ConfigureAwait(false)).Trim();
                throw new QemuStartException($"QEMU refused to start VM '{spec.Name}' (exit {first.ExitCode}): {(words.Length == 0 ? "no message" : words)}");
            }
        }

        var pid = await ReadPidAsync(runtimeDirectory, cancellationToken).ConfigureAwait(false)
            ?? throw new QemuStartException($"QEMU daemonized VM '{spec.Name}' but left no readable pid file in {runtimeDirectory}.");

        try
        {
            return new QemuInstance(pid, runtimeDirectory, args, await ConnectAsync(runtimeDirectory, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is QmpDisconnectedException or QmpTimeoutException)
        {
            // Started but unreachable: a guest the console cannot control must not run on.
            QemuInstance.Kill(pid);
            throw new QemuStartException($"QEMU started VM '{spec.Name}' (pid {pid}) but its monitor did not answer: {ex.Message}", ex);
        }
    }

    /// <summary>The pid QEMU wrote in the runtime directory, or null when there is none (or not a number).</summary>
    private static async Task<int?> ReadPidAsync(string runtimeDirectory, CancellationToken cancellationToken)
    {
        try
        {
            var text = await File.ReadAllTextAsync(Path.Combine(runtimeDirectory, QemuCommandLine.PidFile), cancellationToken).ConfigureAwait(false);
            return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private Task<QmpClient> ConnectAsync(string runtimeDirectory, CancellationToken cancellationToken) =>
        QmpClient.ConnectAsync(Path.Combine(runtimeDirectory, QemuCommandLine.MonitorFile), time: _time, cancellationToken: cancellationToken);
}
