using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;
using VmConsole.Server.Api;
using VmConsole.Server.Hubs;
using VmConsole.TestSupport;

namespace VmConsole.Server.Tests;

/// <summary>Multifd and XBZRLE through the API: their parameters and refusals, the destination's capabilities, and the xbzrle-cache figures in the JSON, the hub and the history.</summary>
public sealed class MigrationOptionsApiTests : SignedInApiTest
{
    /// <summary>The figures of a pass that encoded: what QEMU's query-migrate would report.</summary>
    internal static readonly XbzrleCacheStats Figures = new(CacheSize: 32 * Sizes.MiB, Bytes: 123_456, Pages: 789, CacheMiss: 4_321, CacheMissRate: 0.125, EncodingRate: 7.5, Overflow: 3);

    [Theory]
    [InlineData("/api/migrations", "{\"vm\":\"web-1\",\"destinationHost\":\"host-b\",\"parameters\":{\"multifdCompression\":\"lz4\"}}", "validation-failed", "parameters.multifdCompression")]
    [InlineData("/api/migrations", "{\"vm\":\"web-1\",\"destinationHost\":\"host-b\",\"parameters\":{\"multifdZlibLevel\":10}}", "invalid-parameter", "parameters.multifdZlibLevel")]
    [InlineData("/api/migrations", "{\"vm\":\"web-1\",\"destinationHost\":\"host-b\",\"parameters\":{\"multifdZstdLevel\":21}}", "invalid-parameter", "parameters.multifdZstdLevel")]
    [InlineData("/api/migrations", "{\"vm\":\"web-1\",\"destinationHost\":\"host-b\",\"parameters\":{\"xbzrleCacheSize\":5000000}}", "invalid-parameter", "parameters.xbzrleCacheSize")]
    [InlineData("/api/migrations", "{\"vm\":\"web-1\",\"destinationHost\":\"host-b\",\"capabilities\":{\"multifd\":true,\"xbzrle\":true}}", "unsupported-capability", "capabilities.xbzrle")]
    [InlineData("/api/migrations", "{\"vm\":\"web-1\",\"uri\":\"file:/tmp/vmconsole-never.mig\",\"capabilities\":{\"multifd\":true}}", "multifd-not-supported-by-protocol", "capabilities.multifd")]
    [InlineData("/api/vms/incoming", "{\"name\":\"in-1\",\"host\":\"host-a\",\"uri\":\"tcp:127.0.0.1:1\",\"parameters\":{\"multifdCompression\":\"gzip\"}}", "validation-failed", "parameters.multifdCompression")]
    [InlineData("/api/vms/incoming", "{\"name\":\"in-1\",\"host\":\"host-a\",\"uri\":\"tcp:127.0.0.1:1\",\"parameters\":{\"multifdChannels\":0}}", "invalid-parameter", "parameters.multifdChannels")]
    [InlineData("/api/vms/incoming", "{\"name\":\"in-1\",\"host\":\"host-a\",\"uri\":\"tcp:127.0.0.1:1\",\"capabilities\":{\"multifd\":true,\"xbzrle\":true}}", "unsupported-capability", "capabilities.xbzrle")]
    public async Task Post_BadMultifdOrXbzrleSetting_Is400NamingTheField(string path, string body, string code, string field)
    {
        var response = await Admin.PostAsync(new Uri(path, UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, code);
        var errors = Assert.IsType<JsonObject>(problem["errors"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)Assert.IsType<JsonArray>(errors[field])[0]), problem.ToJsonString());
        Assert.Empty(Factory.Services.GetRequiredService<MigrationEngine>().Registry.All);
    }

    [Fact]
    public async Task Start_MultifdWithZstd_TheMigrationShowsItsChannelsCompressionAndLevel()
    {
        var response = await Admin.PostAsJsonAsync("/api/migrations", new
        {
            vm = "tiny-1",
            destinationHost = "host-a",
            capabilities = new { multifd = true },
            parameters = new { multifdChannels = 4, multifdCompression = "zstd", multifdZstdLevel = 3 },
        });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        var shown = await ApiTestMemory.WaitForMigrationAsync(Admin, id);
        Assert.True((bool)shown["capabilities"]!["multifd"]!);
        Assert.Equal(4, (int)shown["parameters"]!["multifdChannels"]!);
        Assert.Equal("zstd", (string?)shown["parameters"]!["multifdCompression"]);
        Assert.Equal(3, (int)shown["parameters"]!["multifdZstdLevel"]!);
        Assert.Null(shown["xbzrleCache"]);

        var command = (await Admin.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}/command"))!.ToJsonString();
        Assert.Contains("migrate_set_parameter multifd-compression zstd", command, StringComparison.Ordinal);
        Assert.Contains("migrate_set_parameter multifd-zstd-level 3", command, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Incoming_CapabilitiesAndParametersOfPostMigrations_Is202AndListens()
    {
        var response = await Admin.PostAsJsonAsync("/api/vms/incoming", new
        {
            name = "told-multifd",
            host = "host-a",
            uri = $"tcp:127.0.0.1:{LoopbackPorts.Free()}",
            capabilities = new { multifd = true, postcopyRam = true, xIgnoreShared = true, autoConverge = true },
            parameters = new { multifdChannels = 16, multifdCompression = "zlib" },
        });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var migration = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("incoming", (string?)migration["direction"]);
        Assert.True((bool)migration["capabilities"]!["postcopyRam"]!);
        var id = (string)migration["id"]!;
        Assert.Equal(HttpStatusCode.Accepted, (await Admin.PostAsync(new Uri($"/api/migrations/{id}/cancel", UriKind.Relative), null)).StatusCode);
        Assert.Equal("cancelled", (string?)(await ApiTestMemory.WaitForMigrationAsync(Admin, id))["status"]);
    }

    [Fact]
    public async Task Incoming_OnlyTheOldCapabilities_StillListens()
    {
        var response = await Admin.PostAsJsonAsync("/api/vms/incoming", new { name = "told-old", host = "host-a", uri = $"tcp:127.0.0.1:{LoopbackPorts.Free()}", capabilities = new { xIgnoreShared = true } });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        Assert.Equal(HttpStatusCode.Accepted, (await Admin.PostAsync(new Uri($"/api/migrations/{id}/cancel", UriKind.Relative), null)).StatusCode);
        Assert.Equal("cancelled", (string?)(await ApiTestMemory.WaitForMigrationAsync(Admin, id))["status"]);
    }

    [Fact]
    public async Task XbzrleCache_OfAMigrationThatEncodes_IsInTheJsonAndReachesAHubClient()
    {
        var cookie = await Factory.SignInCookieAsync();
        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(Factory.Server.BaseAddress, ConsoleHub.Path), options =>
            {
                options.Transports = HttpTransportType.LongPolling;
                options.HttpMessageHandlerFactory = _ => Factory.Server.CreateHandler();
                options.Headers["Cookie"] = cookie;
            })
            .Build();
        var received = new ConcurrentQueue<MigrationDto>();
        var withCache = new TaskCompletionSource<MigrationDto>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.On<MigrationDto>(nameof(IConsoleClient.MigrationProgress), m =>
        {
            received.Enqueue(m);
            if (m.XbzrleCache is not null)
            {
                withCache.TrySetResult(m);
            }
        });
        await connection.StartAsync();
        await connection.InvokeAsync(nameof(ConsoleHub.SubscribeAll));
        var migration = Register("mig-xbzrle-hub");

        migration.Report(new MigrationStats { Status = MigrationStatus.Active, Transferred = 1 << 20, XbzrleCache = Figures });

        var pushed = await withCache.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("mig-xbzrle-hub", pushed.Id);
        Assert.Equal(Figures.ToDto(), pushed.XbzrleCache);
        Assert.Equal(MultifdCompression.None, pushed.Parameters.MultifdCompression);
        Assert.Equal(32 * Sizes.MiB, pushed.Parameters.XbzrleCacheSize);
        var json = (await Admin.GetFromJsonAsync<JsonObject>("/api/migrations/mig-xbzrle-hub"))!;
        Assert.Equal(0.125, (double)json["xbzrleCache"]!["cacheMissRate"]!);
        Assert.Equal(7.5, (double)json["xbzrleCache"]!["encodingRate"]!);
        Assert.Equal(789, (long)json["xbzrleCache"]!["pages"]!);
        migration.Report(migration.GetStats() with { Status = MigrationStatus.Completed });
    }

    /// <summary>A migration with xbzrle (32 MiB cache) whose figures the test reports, registered like any other.</summary>
    private ScriptedMigration Register(string id)
    {
        var migration = new ScriptedMigration(
            id, "tiny-1", MigrationParameters.Default with { XbzrleCacheSize = 32 * Sizes.MiB }, MigrationCapabilities.Default with { Xbzrle = true }, TimeProvider.System);
        Factory.Services.GetRequiredService<MigrationEngine>().Registry.Add(migration);
        return migration;
    }
}

/// <summary>The stored migration keeps its xbzrle-cache figures and its multifd parameters across a restart.</summary>
public sealed class MigrationOptionsRestartTests : IDisposable
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-xbzrle-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task History_XbzrleFiguresAndMultifdParameters_SurviveARestart()
    {
        var parameters = MigrationParameters.Default with { MultifdChannels = 8, MultifdCompression = MultifdCompression.Zlib, MultifdZlibLevel = 6, XbzrleCacheSize = 32 * Sizes.MiB };
        await using (var first = new ConsoleFactory(databaseFile: _database, keepDatabase: true))
        {
            using var client = await first.CreateSignedInClientAsync();
            var migration = new ScriptedMigration("mig-xbzrle-kept", "tiny-1", parameters, MigrationCapabilities.Default with { Xbzrle = true }, TimeProvider.System);
            first.Services.GetRequiredService<MigrationEngine>().Registry.Add(migration);
            migration.Report(new MigrationStats { Status = MigrationStatus.Active, XbzrleCache = MigrationOptionsApiTests.Figures with { Pages = 1 } });
            migration.Report(new MigrationStats { Status = MigrationStatus.Completed, Transferred = 5 << 20, XbzrleCache = MigrationOptionsApiTests.Figures });
            await Eventually.UntilAsync(
                async () => (string?)(await client.GetFromJsonAsync<JsonObject>("/api/migrations/mig-xbzrle-kept"))!["status"] == "completed",
                TimeSpan.FromSeconds(30),
                () => "the migration was not recorded completed");
        }

        await using var second = new ConsoleFactory(databaseFile: _database);
        using var again = await second.CreateSignedInClientAsync();
        Assert.DoesNotContain(second.Services.GetRequiredService<MigrationEngine>().Registry.All, m => m.Id == "mig-xbzrle-kept");

        var stored = (await again.GetFromJsonAsync<MigrationDto>("/api/migrations/mig-xbzrle-kept"))!;

        Assert.Equal("completed", stored.Status);
        Assert.Equal(MigrationOptionsApiTests.Figures.ToDto(), stored.XbzrleCache);
        Assert.Equal(parameters, stored.Parameters);
        Assert.True(stored.Capabilities.Xbzrle);
    }

    public void Dispose()
    {
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }
}
