using System.Diagnostics;
using System.Net;
using System.Text;

namespace VmConsole.Server.Tests;

/// <summary>The console as its own process (the built server next to the tests), on a loopback port and a given database.</summary>
public sealed class ConsoleProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    // The QEMU runtime directory this object made (and so cleans up), or null when the caller gave one and keeps it.
    private readonly string? _ownQemuDirectory;

    private ConsoleProcess(Process process, Uri address, string? ownQemuDirectory)
    {
        _process = process;
        Address = address;
        _ownQemuDirectory = ownQemuDirectory;
    }

    public Uri Address { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <param name="qemuDirectory">
    /// The QEMU hosts' runtime directory; give the same one to a restarted console so that it finds its QEMU VMs again
    /// (the caller then ends their processes). Without it, the console gets a directory of its own, whose QEMU processes
    /// are killed when this object is disposed.
    /// </param>
    /// <param name="seedQemu">Whether the console seeds its demo QEMU VM (off: most tests have no use for a guest process).</param>
    public static async Task<ConsoleProcess> StartAsync(string databaseFile, string? qemuDirectory = null, bool seedQemu = false)
    {
        var ownQemuDirectory = qemuDirectory is null ? QemuProcess.TempDirectory() : null;
        var port = LoopbackPorts.Free();
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "VmConsole.Server.dll"), "--urls", $"http://127.0.0.1:{port}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.Environment["ConnectionStrings__VmConsole"] = $"Data Source={databaseFile}";
        info.Environment["Auth__BootstrapAdminPassword"] = ConsoleFactory.AdminPassword;
        info.Environment["Qemu__RuntimeDirectory"] = qemuDirectory ?? ownQemuDirectory;
        info.Environment["Qemu__Seed__Enabled"] = seedQemu ? "true" : "false";
        // Startup is mostly JIT: without profile-guided instrumentation and with one GC heap, it is sooner ready on a
        // busy machine (crash tests start the console many times). Neither changes what the console does.
        info.Environment["DOTNET_TieredPGO"] = "0";
        info.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(info)!;
        var console = new ConsoleProcess(process, new Uri($"http://127.0.0.1:{port}/"), ownQemuDirectory);
        process.OutputDataReceived += (_, e) => console.Append(e.Data);
        process.ErrorDataReceived += (_, e) => console.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await console.WaitReadyAsync();
        }
        catch
        {
            // Not handed to the caller, so killed here.
            console.Dispose();
            throw;
        }

        return console;
    }

    /// <summary>A client signed in as the bootstrap admin (cookies kept).</summary>
    public async Task<HttpClient> SignInAsync()
    {
        var client = new HttpClient(new HttpClientHandler { UseCookies = true }) { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            using var body = new StringContent($"{{\"userName\":\"admin\",\"password\":\"{ConsoleFactory.AdminPassword}\"}}", Encoding.UTF8, "application/json");
            (await client.PostAsync(new Uri("api/auth/login", UriKind.Relative), body)).EnsureSuccessStatusCode();
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Ends the process at once, as a power cut or kill -9 would: nothing is shut down gracefully.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
        if (_ownQemuDirectory is not null)
        {
            QemuProcess.KillAllUnderAsync(_ownQemuDirectory).GetAwaiter().GetResult();
            Directory.Delete(_ownQemuDirectory, recursive: true);
        }
    }

    private async Task WaitReadyAsync()
    {
        // A first render can take seconds on a busy machine: a short timeout would only abort it and start it again.
        using var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        await Eventually.UntilAsync(
            async () =>
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"The console exited with {_process.ExitCode}:\n{Output}");
                }

                try
                {
                    using var response = await client.GetAsync(new Uri("login", UriKind.Relative));
                    return response.StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
                catch (TaskCanceledException)
                {
                    return false;
                }
            },
            // Generous: with every core busy a console start (probing QEMU, recovering its VMs) once took over 60 s.
            TimeSpan.FromSeconds(120),
            () => $"The console did not answer:\n{Output}");
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
