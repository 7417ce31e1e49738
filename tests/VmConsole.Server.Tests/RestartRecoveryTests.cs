using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using VmConsole.Qemu.Processes;

namespace VmConsole.Server.Tests;

/// <summary>Killed in the middle of a migration and started again, the console keeps what it must.</summary>
public sealed class RestartRecoveryTests : IDisposable
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-restart-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task KilledMidMigration_Restarted_DefinitionsShutOffMigrationFailedHistorySamplesAndAuditKept()
    {
        string id;
        using (var first = await ConsoleProcess.StartAsync(_database))
        {
            using var client = await SignedInAsync(first);
            Assert.Equal(HttpStatusCode.Created, (await PostAsync(client, "api/vms/db-1/ramblocks", "{\"backendId\":\"kept0\",\"sizeBytes\":8388608}")).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await PostAsync(client, "api/vms", "{\"name\":\"later-1\",\"host\":\"host-b\",\"machine\":\"microvm\",\"memoryMiB\":16,\"start\":true}")).StatusCode);
            // 8 MB/s of dirtying against 1 MiB/s: the migration cannot converge, so it is surely active when killed.
            var busy = await client.PutAsync(new Uri("api/vms/db-1/workload", UriKind.Relative), Json("{\"kind\":\"uniform\",\"pagesPerSecond\":2000}"));
            Assert.Equal(HttpStatusCode.OK, busy.StatusCode);
            var started = await PostAsync(client, "api/migrations", "{\"vm\":\"db-1\",\"destinationHost\":\"host-b\",\"parameters\":{\"maxBandwidth\":1048576}}");
            id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
            var refused = await client.PutAsync(new Uri("api/vms/db-1/ramblocks/1/migratable", UriKind.Relative), Json("{\"migratable\":false}"));
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);

            // Wait until the writer has stored some progress, then pull the plug.
            await Eventually.UntilAsync(async () => (await client.GetFromJsonAsync<JsonArray>($"api/migrations/{id}/samples"))!.Count >= 2, TimeSpan.FromSeconds(15), () => $"fewer than two samples of {id} stored");

            Assert.Equal("active", (string?)(await client.GetFromJsonAsync<JsonObject>($"api/migrations/{id}"))!["status"]);
            first.Kill();
        }

        using var second = await ConsoleProcess.StartAsync(_database);
        using var again = await SignedInAsync(second);

        var vms = (await again.GetFromJsonAsync<JsonArray>("api/vms"))!;
        Assert.Equal(["db-1", "later-1", "tiny-1", "web-1"], vms.Select(v => (string)v!["name"]!).Order());
        Assert.All(vms, vm => Assert.Equal("shutdown", (string?)vm!["runState"]));
        var blocks = (await again.GetFromJsonAsync<JsonArray>("api/vms/db-1/ramblocks"))!;
        Assert.Contains(blocks, b => (string?)b!["backendId"] == "kept0");
        Assert.Contains(blocks, b => (string?)b!["idStr"] == "dimm0" && (bool)b["migratable"]!);
        Assert.Equal("host-a", (string?)vms.Single(v => (string?)v!["name"] == "db-1")!["host"]);

        var migration = (await again.GetFromJsonAsync<JsonObject>($"api/migrations/{id}"))!;
        Assert.Equal("failed", (string?)migration["status"]);
        Assert.Equal("console restarted during migration", (string?)migration["errorDesc"]);
        var events = migration["events"]!.AsArray().Select(e => (string)e!["status"]!).ToList();
        Assert.Equal(["setup", "active", "failed"], events);
        Assert.True((await again.GetFromJsonAsync<JsonArray>($"api/migrations/{id}/samples"))!.Count >= 2);

        var refusals = (await again.GetFromJsonAsync<JsonArray>("api/audit?vm=db-1&outcome=refused"))!;
        var refusal = Assert.Single(refusals, a => (string?)a!["code"] == "migratable-set-frozen")!;
        Assert.Contains("pc.ram", (string?)refusal["reason"], StringComparison.Ordinal);
        var allowed = (await again.GetFromJsonAsync<JsonArray>("api/audit?outcome=allowed"))!;
        Assert.Contains(allowed, a => ((string?)a!["action"])!.StartsWith("Started migration of ", StringComparison.Ordinal));
    }

    /// <remarks>
    /// The migration waits at pre-switchover (pause-before-switchover), a state it keeps however long the console is away,
    /// so the test does not race QEMU. Every QEMU under the test's runtime directory is killed at the end, pass or fail.
    /// </remarks>
    [Fact]
    public async Task KilledMidQemuMigration_Restarted_GuestsRunOnWithTheirPidsAndTheMigrationIsFollowedToItsEnd()
    {
        var qemu = QemuProcess.TempDirectory();
        try
        {
            string id;
            int sourcePid;
            int destinationPid;
            using (var first = await ConsoleProcess.StartAsync(_database, qemu))
            {
                using var client = await SignedInAsync(first);
                var created = await PostAsync(client, "api/vms", "{\"name\":\"kept-q\",\"host\":\"qemu-a\",\"machine\":\"pc\",\"memoryMiB\":128,\"guest\":\"sweep\",\"start\":true}");
                Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
                sourcePid = (int)(await client.GetFromJsonAsync<JsonObject>("api/vms/kept-q"))!["process"]!["pid"]!;
                var started = await PostAsync(client, "api/migrations", "{\"vm\":\"kept-q\",\"destinationHost\":\"qemu-b\",\"parameters\":{\"maxBandwidth\":0},\"capabilities\":{\"pauseBeforeSwitchover\":true}}");
                Assert.True(started.StatusCode == HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync());
                id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
                await Eventually.UntilAsync(
                    async () => (string?)(await client.GetFromJsonAsync<JsonObject>($"api/migrations/{id}"))!["status"] == "pre-switchover",
                    TimeSpan.FromSeconds(90),
                    () => $"migration {id} never reached pre-switchover");
                destinationPid = int.Parse(await File.ReadAllTextAsync(Path.Combine(qemu, "qemu-b", "vms", "kept-q", "qemu.pid")), System.Globalization.CultureInfo.InvariantCulture);

                first.Kill();
            }

            // kill -9 of the console: both guests' processes run on, as they would after a crash.
            Assert.True(QemuInstance.IsProcessAlive(sourcePid), "the source QEMU died with the console");
            Assert.True(QemuInstance.IsProcessAlive(destinationPid), "the destination QEMU died with the console");

            using var second = await ConsoleProcess.StartAsync(_database, qemu);
            using var again = await SignedInAsync(second);
            var vm = (await again.GetFromJsonAsync<JsonObject>("api/vms/kept-q"))!;
            Assert.Equal(sourcePid, (int)vm["process"]!["pid"]!);
            Assert.Equal("qemu-a", (string?)vm["host"]);
            Assert.Equal(id, (string?)vm["activeMigrationId"]);
            await Eventually.UntilAsync(
                async () => (string?)(await again.GetFromJsonAsync<JsonObject>($"api/migrations/{id}"))!["status"] == "pre-switchover",
                TimeSpan.FromSeconds(30),
                () => $"migration {id} is not followed again after the restart");

            // Followed again, it can be finished from the new console.
            Assert.Equal(HttpStatusCode.Accepted, (await again.PostAsync(new Uri($"api/migrations/{id}/continue", UriKind.Relative), null)).StatusCode);
            await Eventually.UntilAsync(
                async () => (string?)(await again.GetFromJsonAsync<JsonObject>($"api/migrations/{id}"))!["status"] == "completed",
                TimeSpan.FromSeconds(60),
                () => $"migration {id} did not complete after the restart");
            await Eventually.UntilAsync(
                async () => (string?)(await again.GetFromJsonAsync<JsonObject>("api/vms/kept-q"))!["host"] == "qemu-b",
                TimeSpan.FromSeconds(30),
                () => "the VM did not move to qemu-b");
            vm = (await again.GetFromJsonAsync<JsonObject>("api/vms/kept-q"))!;
            Assert.Equal(destinationPid, (int)vm["process"]!["pid"]!);
            Assert.Equal("running", (string?)vm["runState"]);
            await Eventually.Until(() => !QemuInstance.IsProcessAlive(sourcePid), TimeSpan.FromSeconds(30), () => $"the source QEMU {sourcePid} still runs after completion");
            var history = (await again.GetFromJsonAsync<JsonObject>($"api/migrations/{id}"))!;
            Assert.Null(history["errorDesc"]);
            Assert.Contains("pre-switchover", history["events"]!.AsArray().Select(e => (string?)e!["status"]));
        }
        finally
        {
            await QemuProcess.KillAllUnderAsync(qemu);
            Directory.Delete(qemu, recursive: true);
        }
    }

    public void Dispose()
    {
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }

    private static async Task<HttpClient> SignedInAsync(ConsoleProcess console)
    {
        var client = new HttpClient(new HttpClientHandler { UseCookies = true }) { BaseAddress = console.Address };
        (await PostAsync(client, "api/auth/login", $"{{\"userName\":\"admin\",\"password\":\"{ConsoleFactory.AdminPassword}\"}}")).EnsureSuccessStatusCode();
        return client;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string body) =>
        client.PostAsync(new Uri(path, UriKind.Relative), Json(body));
}
