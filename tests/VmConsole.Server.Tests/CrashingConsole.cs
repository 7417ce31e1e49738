using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace VmConsole.Server.Tests;

/// <summary>
/// The console as its own process on a database of its own, killed with kill -9 and started again on the same
/// database as a test says. Disposing kills the process running then, and deletes the database.
/// </summary>
public sealed class CrashingConsole : IDisposable
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-crash-{Guid.NewGuid():N}.db");
    private ConsoleProcess? _process;
    private HttpClient? _client;

    private CrashingConsole()
    {
    }

    /// <summary>Signed in as the bootstrap admin to the process running now.</summary>
    public HttpClient Client => _client ?? throw new InvalidOperationException("No console is running.");

    public static async Task<CrashingConsole> StartAsync()
    {
        var console = new CrashingConsole();
        try
        {
            await console.StartProcessAsync();
            return console;
        }
        catch
        {
            console.Dispose();
            throw;
        }
    }

    /// <summary>Kills the process at once (nothing shut down gracefully), then starts a new one on the same database and signs in again.</summary>
    public async Task KillAndRestartAsync()
    {
        _process!.Kill();
        _client?.Dispose();
        _client = null;
        _process.Dispose();
        _process = null;
        await StartProcessAsync();
    }

    public void Dispose()
    {
        _client?.Dispose();
        _process?.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }

    /// <summary>POSTs <paramref name="body"/> as JSON, or nothing when it is null.</summary>
    public async Task<HttpResponseMessage> PostAsync(string path, string? body = null)
    {
        using var content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json");
        return await Client.PostAsync(new Uri(path, UriKind.Relative), content);
    }

    /// <summary>The whole audit log, newest first (every page).</summary>
    public async Task<List<JsonNode>> AuditAsync()
    {
        var entries = new List<JsonNode>();
        for (var page = 1; ; page++)
        {
            var batch = (await Client.GetFromJsonAsync<JsonArray>($"api/audit?page={page}"))!;
            entries.AddRange(batch.Select(e => e!));
            if (batch.Count < VmConsole.Server.Api.AuditApi.PageSize)
            {
                return entries;
            }
        }
    }

    private async Task StartProcessAsync()
    {
        _process = await ConsoleProcess.StartAsync(_database);
        _client = await _process.SignInAsync();
    }
}
