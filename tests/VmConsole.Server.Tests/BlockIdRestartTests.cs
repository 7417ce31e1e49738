using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace VmConsole.Server.Tests;

/// <summary>A block's <c>id</c> (the API's <c>{block}</c>) names the same block after the console restarts.</summary>
public sealed class BlockIdRestartTests : IDisposable
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-blockids-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task BlockIds_BackendsAddedOutOfSizeOrderOneDeleted_UnchangedAfterRestartAndNotReused()
    {
        Dictionary<string, int> before;
        int deletedId;
        await using (var first = new ConsoleFactory(databaseFile: _database, keepDatabase: true))
        {
            using var client = await first.CreateSignedInClientAsync();

            // Creation order small, big, gone, mid: the block list is sorted by size, so its order is another one.
            foreach (var (backend, mib) in new[] { ("small0", 8), ("big0", 96), ("gone0", 48), ("mid0", 32) })
            {
                Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/vms/db-1/ramblocks", new { backendId = backend, sizeBytes = mib << 20 })).StatusCode);
            }

            var listed = (await client.GetFromJsonAsync<JsonArray>("/api/vms/db-1/ramblocks"))!;
            deletedId = (int)listed.Single(b => (string?)b!["backendId"] == "gone0")!["id"]!;
            Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync(new Uri($"/api/vms/db-1/ramblocks/{deletedId}", UriKind.Relative))).StatusCode);
            before = Ids((await client.GetFromJsonAsync<JsonArray>("/api/vms/db-1/ramblocks"))!);
        }

        await using var second = new ConsoleFactory(databaseFile: _database);
        using var again = await second.CreateSignedInClientAsync();

        var after = Ids((await again.GetFromJsonAsync<JsonArray>("/api/vms/db-1/ramblocks"))!);
        Assert.Equal(before.OrderBy(p => p.Key), after.OrderBy(p => p.Key));
        Assert.Contains("small0", after.Keys);
        var added = await again.PostAsJsonAsync("/api/vms/db-1/ramblocks", new { backendId = "new0", sizeBytes = 4 << 20 });
        var newId = (int)(await added.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        Assert.True(newId > deletedId, $"a new block got id {newId}, not above the deleted block's {deletedId}");
        Assert.DoesNotContain(newId, before.Values);
    }

    private static Dictionary<string, int> Ids(JsonArray blocks) =>
        blocks.ToDictionary(b => (string?)b!["backendId"] ?? (string)b["idStr"]!, b => (int)b!["id"]!);

    public void Dispose()
    {
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }
}
