using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Migration.Engine;

namespace VmConsole.Server.Tests;

/// <summary>The errors particular to each route, each with its status and <c>code</c>; every 400 with <c>errors</c> naming the field.</summary>
public sealed class ApiErrorTests : SignedInApiTest
{
    [Theory]
    [InlineData("DELETE", "/api/vms/nope", null)]
    [InlineData("POST", "/api/vms/nope/power", "{\"action\":\"pause\"}")]
    [InlineData("PUT", "/api/vms/nope/workload", "{\"kind\":\"idle\"}")]
    [InlineData("GET", "/api/vms/nope/ramblocks", null)]
    [InlineData("POST", "/api/migrations", "{\"vm\":\"nope\",\"destinationHost\":\"host-b\"}")]
    public async Task Route_UnknownVm_Is404VmNotFound(string method, string path, string? body)
    {
        await AssertProblemAsync(await SendAsync(method, path, body), HttpStatusCode.NotFound, "vm-not-found");
    }

    [Theory]
    [InlineData("POST", "/api/vms/db-1/ramblocks", "{\"backendId\":\"spare0\",\"sizeBytes\":4096}", HttpStatusCode.Conflict, "backend-exists")]
    [InlineData("PUT", "/api/vms/db-1/ramblocks/999/migratable", "{\"migratable\":true}", HttpStatusCode.NotFound, "block-not-found")]
    [InlineData("PUT", "/api/vms/db-1/ramblocks/999/size", "{\"usedLength\":4096}", HttpStatusCode.NotFound, "block-not-found")]
    [InlineData("POST", "/api/vms/db-1/devices", "{\"driver\":\"pc-dimm\",\"id\":\"d9\",\"memdev\":\"none0\"}", HttpStatusCode.NotFound, "backend-not-found")]
    [InlineData("POST", "/api/vms/db-1/devices", "{\"driver\":\"pc-dimm\",\"id\":\"dimm0-dev\",\"memdev\":\"spare0\"}", HttpStatusCode.Conflict, "device-exists")]
    [InlineData("DELETE", "/api/vms/db-1/devices/none", null, HttpStatusCode.NotFound, "device-not-found")]
    [InlineData("POST", "/api/migrations/mig-none/cancel", null, HttpStatusCode.NotFound, "migration-not-found")]
    [InlineData("POST", "/api/migrations/mig-none/continue", null, HttpStatusCode.NotFound, "migration-not-found")]
    [InlineData("POST", "/api/auth/login", "{\"userName\":\"admin\"}", HttpStatusCode.BadRequest, "validation-failed")]
    public async Task Route_RefusedRequest_IsProblemWithItsCode(string method, string path, string? body, HttpStatusCode status, string code)
    {
        await AssertProblemAsync(await SendAsync(method, path, body), status, code);
    }

    [Theory]
    [InlineData("POST", "/api/vms", "{\"name\":\"Bad Name!\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64}", "invalid-name", "name")]
    [InlineData("POST", "/api/vms", "{\"name\":\"m1\",\"host\":\"host-a\",\"machine\":\"vax\",\"memoryMiB\":64}", "invalid-machine", "machine")]
    [InlineData("PUT", "/api/vms/tiny-1/workload", "{\"kind\":\"uniform\",\"pagesPerSecond\":10,\"workingSetMiB\":64}", "invalid-working-set", "workingSetMiB")]
    [InlineData("POST", "/api/vms/db-1/ramblocks", "{\"backendId\":\"9bad\",\"sizeBytes\":4096}", "invalid-id", "backendId")]
    [InlineData("POST", "/api/vms/db-1/ramblocks", "{\"backendId\":\"odd0\",\"sizeBytes\":4097}", "invalid-size", "sizeBytes")]
    [InlineData("POST", "/api/vms/db-1/devices", "{\"driver\":\"pc-dimm\",\"id\":\"9bad\",\"memdev\":\"spare0\"}", "invalid-id", "id")]
    [InlineData("POST", "/api/migrations", "{\"vm\":\"web-1\",\"uri\":\"exec:cat\"}", "invalid-uri", "uri")]
    [InlineData("POST", "/api/migrations", "{\"vm\":\"web-1\",\"destinationHost\":\"host-b\",\"capabilities\":{\"postcopyRam\":true}}", "unsupported-capability", "capabilities.postcopyRam")]
    [InlineData("POST", "/api/migrations", "{\"vm\":\"web-1\",\"destinationHost\":\"host-b\",\"parameters\":{\"maxBandwidth\":-1}}", "invalid-parameter", "parameters.maxBandwidth")]
    [InlineData("POST", "/api/vms", "{\"name\": 5}", "bad-request", "name")]
    [InlineData("POST", "/api/migrations", "{\"vm\":\"web-1\",\"parameters\":{\"downtimeLimit\":\"long\"}}", "bad-request", "parameters.downtimeLimit")]
    [InlineData("POST", "/api/vms", "{\"name\": \"x\",", "bad-request", "$")]
    [InlineData("POST", "/api/vms/db-1/power", "[]", "bad-request", "$")]
    [InlineData("GET", "/api/audit?page=abc", null, "bad-request", "page")]
    public async Task Route_Invalid_Is400WithErrorsKeyedByTheField(string method, string path, string? body, string code, string field)
    {
        var problem = await AssertProblemAsync(await SendAsync(method, path, body), HttpStatusCode.BadRequest, code);

        var errors = Assert.IsType<JsonObject>(problem["errors"]);
        var messages = Assert.IsType<JsonArray>(errors[field]);
        Assert.False(string.IsNullOrWhiteSpace((string?)messages[0]));
    }

    [Fact]
    public async Task Resize_BeyondMaxLength_Is400UsedLengthExceedsMax()
    {
        var tables = (await Admin.GetFromJsonAsync<JsonArray>("/api/vms/db-1/ramblocks"))!.Single(b => (string?)b!["idStr"] == "/rom@etc/acpi/tables")!;

        var response = await Admin.PutAsJsonAsync($"/api/vms/db-1/ramblocks/{(int)tables["id"]!}/size", new { usedLength = (long)tables["maxLength"]! + 4096 });

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "used-length-exceeds-max");
        Assert.NotNull(problem["errors"]!["usedLength"]);
    }

    [Fact]
    public async Task Plug_AllSlotsUsed_Is409NoFreeSlot()
    {
        // db-1 has 4 slots, one used by dimm0-dev: three more fill them.
        for (var i = 1; i <= 4; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsJsonAsync("/api/vms/db-1/ramblocks", new { backendId = $"fill{i}", sizeBytes = 8 << 20 })).StatusCode);
        }

        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await Admin.PostAsJsonAsync("/api/vms/db-1/devices", new { driver = "pc-dimm", id = $"fill{i}-dev", memdev = $"fill{i}" })).StatusCode);
        }

        var response = await Admin.PostAsJsonAsync("/api/vms/db-1/devices", new { driver = "pc-dimm", id = "fill4-dev", memdev = "fill4" });

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "no-free-slot");
    }

    [Fact]
    public async Task Migrating_SizePlugUnplugAndASecondMigration_AreRefused409Frozen()
    {
        var tables = (await Admin.GetFromJsonAsync<JsonArray>("/api/vms/db-1/ramblocks"))!.Single(b => (string?)b!["idStr"] == "/rom@etc/acpi/tables")!;
        var started = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "db-1", destinationHost = "host-b", parameters = new { maxBandwidth = 1 << 20 } });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        try
        {
            var resize = await Admin.PutAsJsonAsync($"/api/vms/db-1/ramblocks/{(int)tables["id"]!}/size", new { usedLength = 256 << 10 });
            var plug = await Admin.PostAsJsonAsync("/api/vms/db-1/devices", new { driver = "pc-dimm", id = "late-dev", memdev = "spare0" });
            var unplug = await Admin.DeleteAsync(new Uri("/api/vms/db-1/devices/dimm0-dev", UriKind.Relative));
            var second = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "db-1", destinationHost = "host-b" });

            foreach (var (response, operation) in new[] { (resize, "resize"), (plug, "plug a memory device"), (unplug, "unplug the memory device") })
            {
                var problem = await AssertProblemAsync(response, HttpStatusCode.Conflict, "migratable-set-frozen");
                Assert.Equal(id, (string?)problem["migrationId"]);
                Assert.Contains(operation, (string?)problem["operation"], StringComparison.Ordinal);
            }

            var refusedSecond = await AssertProblemAsync(second, HttpStatusCode.Conflict, "migratable-set-frozen");
            Assert.Equal(id, (string?)refusedSecond["migrationId"]);
            Assert.Equal("migrate", (string?)refusedSecond["operation"]);
            Assert.Single(await Admin.GetFromJsonAsync<JsonArray>("/api/migrations?vm=db-1") ?? []);
        }
        finally
        {
            await Admin.PostAsync(new Uri($"/api/migrations/{id}/cancel", UriKind.Relative), null);
            await Factory.Services.GetRequiredService<MigrationEngine>().Registry.Get(id).Finished.WaitAsync(TimeSpan.FromSeconds(15));
        }
    }

    [Fact]
    public async Task CancelAndContinue_FinishedMigration_CancelIsA200NoOpContinueIs409()
    {
        var started = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "tiny-1", destinationHost = "host-a" });
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        await Factory.Services.GetRequiredService<MigrationEngine>().Registry.Get(id).Finished.WaitAsync(TimeSpan.FromSeconds(30));

        var cancel = await Admin.PostAsync(new Uri($"/api/migrations/{id}/cancel", UriKind.Relative), null);
        var resumed = await Admin.PostAsync(new Uri($"/api/migrations/{id}/continue", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("completed", (string?)(await cancel.Content.ReadFromJsonAsync<JsonObject>())!["status"]);
        await AssertProblemAsync(resumed, HttpStatusCode.Conflict, "not-pre-switchover");
        Assert.Equal("completed", (string?)(await Admin.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}"))!["status"]);
    }

    private Task<HttpResponseMessage> SendAsync(string method, string path, string? body)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return Admin.SendAsync(request);
    }

    internal static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(code, (string?)problem["code"]);
        Assert.Equal((int)status, (int)problem["status"]!);
        Assert.False(string.IsNullOrWhiteSpace((string?)problem["detail"]));
        return problem;
    }
}
