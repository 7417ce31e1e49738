using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Migration.Engine;

namespace VmConsole.Server.Tests;

/// <summary>A migration's task log and its QEMU command equivalents over the API, live and kept across a restart.</summary>
public sealed class MigrationTaskLogApiTests : IDisposable
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-tasklog-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task LogAndCommand_CompletedMigration_LinePerPassAndActionKeptAcrossARestart()
    {
        string id;
        await using (var first = new ConsoleFactory(databaseFile: _database, keepDatabase: true))
        {
            using var client = await first.CreateSignedInClientAsync();
            var started = await client.PostAsJsonAsync("/api/migrations", new
            {
                vm = "tiny-1",
                destinationHost = "host-a",
                parameters = new { maxBandwidth = 268435456 },
                capabilities = new { autoConverge = true },
            });
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
            id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
            await first.Services.GetRequiredService<MigrationEngine>().Registry.Get(id).Finished.WaitAsync(TimeSpan.FromSeconds(30));

            // The last line is written by the event path behind the migration's end.
            await Eventually.UntilAsync(async () => Texts(await client.GetFromJsonAsync<JsonArray>($"/api/migrations/{id}/log")).Any(t => t.StartsWith("Completed", StringComparison.Ordinal)), TimeSpan.FromSeconds(10));
        }

        await using var second = new ConsoleFactory(databaseFile: _database);
        using var again = await second.CreateSignedInClientAsync();

        var log = (await again.GetFromJsonAsync<JsonArray>($"/api/migrations/{id}/log"))!;
        var texts = Texts(log);
        Assert.StartsWith("Started: tiny-1 from ", texts[0], StringComparison.Ordinal);
        Assert.Contains("max-bandwidth 256 MiB/s", texts[0], StringComparison.Ordinal);
        Assert.Contains(log, l => (string?)l!["kind"] == "pass" && ((string?)l["text"])!.Contains("dirty pages", StringComparison.Ordinal));
        Assert.Contains(texts, t => t.StartsWith("Switchover", StringComparison.Ordinal));
        Assert.StartsWith("Completed in ", texts[^1], StringComparison.Ordinal);
        Assert.Contains("now runs on host-a", texts[^1], StringComparison.Ordinal);
        Assert.True(log.Select(l => (DateTimeOffset)l!["at"]!).SequenceEqual(log.Select(l => (DateTimeOffset)l!["at"]!).Order()), "oldest first");

        var command = (await again.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}/command"))!;
        var hmp = command["hmp"]!.AsArray().Select(h => (string)h!).ToList();
        Assert.Contains("migrate_set_capability auto-converge on", hmp);
        Assert.Contains("migrate_set_parameter max-bandwidth 268435456", hmp);
        Assert.Contains("migrate_set_parameter downtime-limit 300", hmp);
        Assert.StartsWith("migrate -d tcp:127.0.0.1:", hmp[^1], StringComparison.Ordinal);
        var qmp = command["qmp"]!.AsArray().Select(q => JsonNode.Parse((string)q!)!).ToList();
        Assert.Equal(["migrate-set-capabilities", "migrate-set-parameters", "migrate"], qmp.Select(q => (string)q["execute"]!));
        Assert.Equal(268435456, (long)qmp[1]["arguments"]!["max-bandwidth"]!);
    }

    [Fact]
    public async Task LogAndCommand_UnknownMigration_Are404()
    {
        await using var factory = new ConsoleFactory(databaseFile: _database);
        using var client = await factory.CreateSignedInClientAsync();

        await ApiErrorTests.AssertProblemAsync(await client.GetAsync(new Uri("/api/migrations/mig-nope/log", UriKind.Relative)), HttpStatusCode.NotFound, "migration-not-found");
        await ApiErrorTests.AssertProblemAsync(await client.GetAsync(new Uri("/api/migrations/mig-nope/command", UriKind.Relative)), HttpStatusCode.NotFound, "migration-not-found");
    }

    private static List<string> Texts(JsonArray? log) => [.. (log ?? []).Select(l => (string)l!["text"]!)];

    public void Dispose()
    {
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }
}
