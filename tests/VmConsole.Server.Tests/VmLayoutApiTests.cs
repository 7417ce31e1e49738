using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace VmConsole.Server.Tests;

/// <summary>
/// The create API takes a VM's RAM layout (main RAM backend, NUMA nodes with their memdevs); bad layouts are 400 problems
/// naming the field, and a VM keeps its layout across a console restart.
/// </summary>
public sealed class VmLayoutApiTests : IDisposable
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-layouts-{Guid.NewGuid():N}.db");

    public static TheoryData<string, string, string> BadLayouts() => new()
    {
        { "{\"name\":\"l1\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64,\"mainRamBackend\":\"9bad\"}", "invalid-id", "mainRamBackend" },
        { "{\"name\":\"l1\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64,\"mainRamBackend\":\"pc.bios\"}", "duplicate-idstr", "mainRamBackend" },
        { "{\"name\":\"l1\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64,\"mainRamBackend\":\"m\",\"numaNodes\":[{\"memdev\":\"m0\",\"sizeMiB\":64}]}", "invalid-parameter", "numaNodes" },
        { "{\"name\":\"l1\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64,\"numaNodes\":[{\"memdev\":\"m0\",\"sizeMiB\":32},{\"memdev\":\"m1\",\"sizeMiB\":16}]}", "invalid-memory-size", "numaNodes" },
        { "{\"name\":\"l1\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64,\"numaNodes\":[{\"memdev\":\"m0\",\"sizeMiB\":32},{\"memdev\":\"m0\",\"sizeMiB\":32}]}", "duplicate-idstr", "numaNodes[1].memdev" },
        { "{\"name\":\"l1\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64,\"numaNodes\":[{\"memdev\":\"m0\",\"sizeMiB\":32},{\"memdev\":\"1x\",\"sizeMiB\":32}]}", "invalid-id", "numaNodes[1].memdev" },
        { "{\"name\":\"l1\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64,\"numaNodes\":[{\"memdev\":\"m0\",\"sizeMiB\":0}]}", "validation-failed", "numaNodes[0].sizeMiB" },
        { "{\"name\":\"l1\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64,\"numaNodes\":[{\"sizeMiB\":64}]}", "validation-failed", "numaNodes[0].memdev" },
        { "{\"name\":\"l1\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64,\"numaNodes\":[null]}", "validation-failed", "numaNodes[0]" },
    };

    [Theory]
    [MemberData(nameof(BadLayouts))]
    public async Task CreateVm_BadLayout_Is400NamingTheField(string body, string code, string field)
    {
        await using var console = new ConsoleFactory();
        using var client = await console.CreateSignedInClientAsync();

        var response = await client.PostAsync(new Uri("/api/vms", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, code);
        var messages = Assert.IsType<JsonArray>(problem["errors"]![field], exactMatch: false);
        Assert.False(string.IsNullOrWhiteSpace((string?)messages[0]));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(new Uri("/api/vms/l1", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task CreateVm_NumaAndBackendLayouts_BlocksNamedAfterThemAndKeptAfterRestart()
    {
        Dictionary<string, long> numaBefore, backendBefore;
        await using (var first = new ConsoleFactory(databaseFile: _database, keepDatabase: true))
        {
            using var client = await first.CreateSignedInClientAsync();
            var numa = await client.PostAsJsonAsync("/api/vms", new
            {
                name = "numa-1", host = "host-a", machine = "q35", memoryMiB = 96,
                numaNodes = new[] { new { memdev = "m0", sizeMiB = 64 }, new { memdev = "m1", sizeMiB = 32 } },
            });
            Assert.Equal(HttpStatusCode.Created, numa.StatusCode);
            var backend = await client.PostAsJsonAsync("/api/vms", new { name = "mb-1", host = "host-a", machine = "microvm", memoryMiB = 16, mainRamBackend = "mem" });
            Assert.Equal(HttpStatusCode.Created, backend.StatusCode);

            numaBefore = await MigratableAsync(client, "numa-1");
            backendBefore = await MigratableAsync(client, "mb-1");
            Assert.Equal(64L << 20, numaBefore["m0"]);
            Assert.Equal(32L << 20, numaBefore["m1"]);
            Assert.DoesNotContain("pc.ram", numaBefore.Keys);
            Assert.Equal(16L << 20, backendBefore["mem"]);
            Assert.DoesNotContain("microvm.ram", backendBefore.Keys);
        }

        await using var second = new ConsoleFactory(databaseFile: _database);
        using var again = await second.CreateSignedInClientAsync();
        Assert.Equal(numaBefore, await MigratableAsync(again, "numa-1"));
        Assert.Equal(backendBefore, await MigratableAsync(again, "mb-1"));

        // The VM says its layout as it was asked for.
        var numaVm = (await again.GetFromJsonAsync<JsonObject>("/api/vms/numa-1"))!;
        Assert.Null(numaVm["mainRamBackend"]?.GetValue<string>());
        Assert.Equal([("m0", 64L << 20), ("m1", 32L << 20)], numaVm["numaNodes"]!.AsArray().Select(n => ((string)n!["memdev"]!, (long)n["sizeBytes"]!)));
        var backendVm = (await again.GetFromJsonAsync<JsonObject>("/api/vms/mb-1"))!;
        Assert.Equal("mem", backendVm["mainRamBackend"]!.GetValue<string>());
        Assert.Empty(backendVm["numaNodes"]!.AsArray());
    }

    private static async Task<Dictionary<string, long>> MigratableAsync(HttpClient client, string vm) =>
        (await client.GetFromJsonAsync<JsonArray>($"/api/vms/{vm}/ramblocks"))!
            .Where(b => (bool)b!["migratable"]!)
            .ToDictionary(b => (string)b!["idStr"]!, b => (long)b!["usedLength"]!);

    public void Dispose()
    {
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }
}
