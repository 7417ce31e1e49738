using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Migration.Engine;

namespace VmConsole.Server.Tests;

/// <summary>A migration the console knows only from its history (it ran before a restart) can still be cancelled (a no-op) and refuses continue clearly.</summary>
public sealed class StoredMigrationTests : IDisposable
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-stored-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task CancelAndContinue_MigrationFromBeforeARestart_CancelIs200AsItIsContinueIs409()
    {
        string id;
        await using (var first = new ConsoleFactory(databaseFile: _database, keepDatabase: true))
        {
            using var client = await first.CreateSignedInClientAsync();
            var started = await client.PostAsJsonAsync("/api/migrations", new { vm = "tiny-1", destinationHost = "host-a" });
            id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
            await first.Services.GetRequiredService<MigrationEngine>().Registry.Get(id).Finished.WaitAsync(TimeSpan.FromSeconds(30));
        }

        await using var second = new ConsoleFactory(databaseFile: _database);
        using var again = await second.CreateSignedInClientAsync();
        Assert.DoesNotContain(second.Services.GetRequiredService<MigrationEngine>().Registry.All, m => m.Id == id);

        var cancel = await again.PostAsync(new Uri($"/api/migrations/{id}/cancel", UriKind.Relative), null);
        var resumed = await again.PostAsync(new Uri($"/api/migrations/{id}/continue", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var shown = (await cancel.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(id, (string?)shown["id"]);
        Assert.Equal("completed", (string?)shown["status"]);
        var problem = await ApiErrorTests.AssertProblemAsync(resumed, HttpStatusCode.Conflict, "not-pre-switchover");
        Assert.Contains("completed", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Equal("completed", (string?)(await again.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}"))!["status"]);
    }

    public void Dispose()
    {
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }
}
