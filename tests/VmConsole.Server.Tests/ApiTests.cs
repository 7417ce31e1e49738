using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace VmConsole.Server.Tests;

/// <summary>The REST API over the seeded console: answers, problem details, and the freeze as a 409.</summary>
public sealed class ApiTests : SignedInApiTest
{
    [Fact]
    public async Task GetVm_Db1_ListsItsBlocksAndDevice()
    {
        var vm = await Admin.GetFromJsonAsync<JsonObject>("/api/vms/db-1");
        var blocks = await Admin.GetFromJsonAsync<JsonArray>("/api/vms/db-1/ramblocks");
        var devices = await Admin.GetFromJsonAsync<JsonArray>("/api/vms/db-1/devices");

        Assert.Equal("running", (string?)vm!["runState"]);
        Assert.Equal(1L << 30, (long)vm["memoryBytes"]!);
        Assert.Equal(8, blocks!.Count);
        var spare = blocks.Single(b => (string?)b!["backendId"] == "spare0")!;
        Assert.Equal("", (string?)spare["idStr"]);
        Assert.False((bool)spare["migratable"]!);
        Assert.Equal("dimm0", (string?)Assert.Single(devices!)!["memdev"]);
    }

    [Theory]
    [InlineData("POST", "/api/vms", "{\"name\": \"x\",")]
    [InlineData("POST", "/api/vms", "{\"name\": 5}")]
    [InlineData("POST", "/api/vms", "{\"name\":\"big\",\"host\":\"host-a\",\"memoryMiB\":99999999999999999999999}")]
    [InlineData("POST", "/api/vms/db-1/power", "[]")]
    [InlineData("PUT", "/api/vms/db-1/ramblocks/1/migratable", "{\"migratable\": \"yes\"}")]
    [InlineData("POST", "/api/migrations", "not json")]
    public async Task Route_MalformedBody_Is400ProblemDetails(string method, string path, string body)
    {
        var response = await SendAsync(method, path, body);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "bad-request");
    }

    [Fact]
    public async Task CreateVm_MissingFields_Is400WithErrorsPerField()
    {
        var response = await SendAsync("POST", "/api/vms", "{}");

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation-failed");
        var errors = problem["errors"]!.AsObject();
        Assert.True(errors.ContainsKey("name") && errors.ContainsKey("host") && errors.ContainsKey("memoryMiB"));
    }

    [Theory]
    [InlineData("{\"name\":\"Bad Name!\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64}", HttpStatusCode.BadRequest, "invalid-name")]
    [InlineData("{\"name\":\"v2\",\"host\":\"nowhere\",\"machine\":\"q35\",\"memoryMiB\":64}", HttpStatusCode.NotFound, "host-not-found")]
    [InlineData("{\"name\":\"web-1\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":64}", HttpStatusCode.Conflict, "vm-exists")]
    [InlineData("{\"name\":\"v3\",\"host\":\"host-a\",\"machine\":\"q35\",\"memoryMiB\":65536}", HttpStatusCode.Conflict, "host-capacity")]
    [InlineData("{\"name\":\"v4\",\"host\":\"host-a\",\"memoryMiB\":-1}", HttpStatusCode.BadRequest, "validation-failed")]
    public async Task CreateVm_Refused_IsProblemWithCode(string body, HttpStatusCode status, string code)
    {
        var response = await SendAsync("POST", "/api/vms", body);

        await AssertProblemAsync(response, status, code);
    }

    [Fact]
    public async Task CreateVm_Valid_Is201AndStarts()
    {
        var response = await SendAsync("POST", "/api/vms", "{\"name\":\"new-1\",\"host\":\"host-b\",\"machine\":\"microvm\",\"memoryMiB\":16,\"start\":true,\"workload\":{\"kind\":\"sweep\",\"pagesPerSecond\":500}}");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/api/vms/new-1", response.Headers.Location?.OriginalString);
        var vm = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("running", (string?)vm!["runState"]);
        Assert.Equal("sweep", (string?)vm["workload"]!["kind"]);
    }

    [Fact]
    public async Task Power_IllegalTransition_Is409WithTheReason()
    {
        var response = await SendAsync("POST", "/api/vms/db-1/power", "{\"action\":\"resume\"}");

        var problem = await AssertProblemAsync(response, HttpStatusCode.Conflict, "illegal-power-transition");
        Assert.Contains("while it is running", (string?)problem["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Power_UnknownAction_Is400()
    {
        var response = await SendAsync("POST", "/api/vms/db-1/power", "{\"action\":\"7\"}");

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation-failed");
    }

    [Fact]
    public async Task FreezeRefusal_DuringMigration_Is409WithMigrationOperationAndBlock()
    {
        var start = await SendAsync("POST", "/api/migrations", "{\"vm\":\"db-1\",\"destinationHost\":\"host-b\",\"parameters\":{\"maxBandwidth\":1048576}}");
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var migration = await start.Content.ReadFromJsonAsync<JsonObject>();
        var id = (string)migration!["id"]!;

        var refused = await SendAsync("PUT", "/api/vms/db-1/ramblocks/1/migratable", "{\"migratable\":false}");
        var allowed = await SendAsync("POST", "/api/vms/db-1/ramblocks", "{\"backendId\":\"extra0\",\"sizeBytes\":16777216}");

        var problem = await AssertProblemAsync(refused, HttpStatusCode.Conflict, "migratable-set-frozen");
        Assert.Equal(id, (string?)problem["migrationId"]);
        Assert.Contains((string?)problem["migrationStatus"], new[] { "setup", "active" });
        Assert.Equal("unset migratable on", (string?)problem["operation"]);
        Assert.Equal("pc.ram", (string?)problem["block"]);
        Assert.Equal(HttpStatusCode.Created, allowed.StatusCode);

        var cancel = await SendAsync("POST", $"/api/migrations/{id}/cancel", "");
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        await Factory.Services.GetRequiredService<VmConsole.Migration.Engine.MigrationEngine>().Registry.Get(id).Finished.WaitAsync(TimeSpan.FromSeconds(10));
        var after = await Admin.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}");
        Assert.Equal("cancelled", (string?)after!["status"]);
        var accepted = await SendAsync("PUT", "/api/vms/db-1/ramblocks/1/migratable", "{\"migratable\":false}");
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    [Fact]
    public async Task Migrations_FilteredByUnknownStatus_Is400()
    {
        var response = await Admin.GetAsync(new Uri("/api/migrations?status=sleeping", UriKind.Relative));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation-failed");
    }

    [Theory]
    [InlineData("GET", "/api/vms/nope", "vm-not-found")]
    [InlineData("GET", "/api/migrations/mig-0000", "migration-not-found")]
    [InlineData("DELETE", "/api/vms/db-1/ramblocks/999", "block-not-found")]
    [InlineData("GET", "/api/nothing/here", "no-such-route")]
    public async Task UnknownId_Is404WithCode(string method, string path, string code)
    {
        var response = await SendAsync(method, path, null);

        await AssertProblemAsync(response, HttpStatusCode.NotFound, code);
    }

    [Fact]
    public async Task OpenApi_DocumentListsTheRoutes()
    {
        var document = await Admin.GetFromJsonAsync<JsonObject>("/openapi/v1.json");

        var paths = document!["paths"]!.AsObject();
        Assert.Contains("/api/vms/{vm}/ramblocks/{block}/migratable", paths.Select(p => p.Key));
        Assert.Contains("/api/migrations/{id}/cancel", paths.Select(p => p.Key));
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

    private static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(code, (string?)problem["code"]);
        Assert.Equal((int)status, (int)problem["status"]!);
        Assert.False(string.IsNullOrWhiteSpace((string?)problem["detail"]));
        return problem;
    }
}
