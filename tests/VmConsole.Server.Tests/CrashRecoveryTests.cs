using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace VmConsole.Server.Tests;

/// <summary>What the API acknowledged is there after kill -9 at once after the answer, and a restart (issue 11, point 4).</summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    private const int Rounds = 20;
    private const string Interrupted = "console restarted during migration";

    [Fact]
    public async Task AcknowledgedChanges_KilledRightAfterEachAnswer_AllThereAfterRestart()
    {
        var clock = Stopwatch.StartNew();
        using var console = await CrashingConsole.StartAsync();
        var vms = new SortedSet<string>(StringComparer.Ordinal);
        var migrations = new List<string>();
        var (creates, deletes) = (0, 0);
        for (var round = 0; round < Rounds; round++)
        {
            // Acknowledged, then killed at once: create a VM, delete the one created the round before, or start a migration.
            string? migration = null;
            switch (round % 3)
            {
                case 0:
                    var name = $"crash-{round}";
                    var created = await console.PostAsync("api/vms", $"{{\"name\":\"{name}\",\"host\":\"host-b\",\"machine\":\"microvm\",\"memoryMiB\":16}}");
                    Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                    await console.KillAndRestartAsync();
                    vms.Add(name);
                    creates++;
                    break;
                case 1:
                    var doomed = $"crash-{round - 1}";
                    var deleted = await console.Client.DeleteAsync(new Uri($"api/vms/{doomed}", UriKind.Relative));
                    Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
                    await console.KillAndRestartAsync();
                    vms.Remove(doomed);
                    deletes++;
                    break;
                default:
                    // A restart leaves every VM shut off; at 1 MiB/s against its 4 MiB/s of dirtying, tiny-1 is still migrating when killed.
                    var state = (await console.Client.GetFromJsonAsync<JsonObject>("api/vms/tiny-1"))!;
                    if ((string?)state["runState"] != "running")
                    {
                        Assert.Equal(HttpStatusCode.OK, (await console.PostAsync("api/vms/tiny-1/power", "{\"action\":\"start\"}")).StatusCode);
                    }

                    var started = await console.PostAsync("api/migrations", "{\"vm\":\"tiny-1\",\"destinationHost\":\"host-a\",\"parameters\":{\"maxBandwidth\":1048576}}");
                    Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
                    await console.KillAndRestartAsync();
                    migration = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
                    migrations.Add(migration);
                    break;
            }

            // Everything acknowledged so far, after this round's kill and restart.
            output.WriteLine($"round {round}: acknowledged, killed and restarted after {clock.Elapsed.TotalSeconds:F1} s");
            var listed = (await console.Client.GetFromJsonAsync<JsonArray>("api/vms"))!.Select(v => (string)v!["name"]!).Where(n => n.StartsWith("crash-", StringComparison.Ordinal));
            Assert.Equal(vms, listed.Order(StringComparer.Ordinal));
            if (migration is not null)
            {
                var stored = await console.Client.GetAsync(new Uri($"api/migrations/{migration}", UriKind.Relative));
                Assert.True(stored.StatusCode == HttpStatusCode.OK, $"round {round}: migration {migration} is unknown after the restart ({(int)stored.StatusCode})");
                var record = (await stored.Content.ReadFromJsonAsync<JsonObject>())!;
                Assert.Equal("failed", (string?)record["status"]);
                Assert.Equal(Interrupted, (string?)record["errorDesc"]);
            }

            var audit = await console.AuditAsync();
            Assert.Equal(creates, audit.Count(a => Allowed(a, "Created VM ", "/api/vms")));
            Assert.Equal(deletes, audit.Count(a => (bool)a["allowed"]! && ((string)a["action"]!).StartsWith("Deleted VM ", StringComparison.Ordinal) && ((string)a["target"]!).StartsWith("/api/vms/crash-", StringComparison.Ordinal)));
            Assert.Equal(migrations.Count, audit.Count(a => Allowed(a, "Started migration of ", "/api/migrations")));
        }

        output.WriteLine($"{Rounds} rounds of an acknowledged change, kill -9 and restart: {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static bool Allowed(JsonNode entry, string action, string target) =>
        (bool)entry["allowed"]! && ((string)entry["action"]!).StartsWith(action, StringComparison.Ordinal) && (string?)entry["target"] == target;
}
