using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Tests;

/// <summary>The memory inspector: GET and PUT of a RAM block's bytes, bounds checked, writes for admins and never during a migration.</summary>
public sealed class MemoryApiTests : SignedInApiTest
{
    [Fact]
    public async Task Put_ThenGet_SameBytesAtTheOffset()
    {
        var block = await BlockIdAsync(Admin, "tiny-1", "microvm.ram");
        byte[] bytes = [1, 2, 3, 0xA5, 0xFF];

        var put = await Admin.PutAsync($"/api/vms/tiny-1/ramblocks/{block}/memory?offset=8190", Raw(bytes));
        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);

        var get = await Admin.GetAsync($"/api/vms/tiny-1/ramblocks/{block}/memory?offset=8190&length=5");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("application/octet-stream", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal(bytes, await get.Content.ReadAsByteArrayAsync());
        Assert.Equal(bytes, ApiTestMemory.ReadBlock(Factory, "tiny-1", "microvm.ram", 8190, 5));
    }

    [Theory]
    [InlineData("offset=0&length=0", "length", "validation-failed")]
    [InlineData("offset=0&length=1048577", "length", "validation-failed")]
    [InlineData("offset=-1&length=1", "offset", "validation-failed")]
    [InlineData("offset=16777216&length=1", "offset", "validation-failed")]
    [InlineData("offset=16777215&length=2", "length", "validation-failed")]
    [InlineData("offset=abc", "offset", "bad-request")]
    public async Task Get_OutOfBounds_Is400NamingTheField(string query, string field, string code)
    {
        var block = await BlockIdAsync(Admin, "tiny-1", "microvm.ram");
        var response = await Admin.GetAsync($"/api/vms/tiny-1/ramblocks/{block}/memory?{query}");
        var problem = await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, code);
        Assert.NotNull(problem["errors"]?[field]);
    }

    [Fact]
    public async Task Get_WholeMebibyteAtTheEnd_Allowed()
    {
        var block = await BlockIdAsync(Admin, "tiny-1", "microvm.ram");
        var response = await Admin.GetAsync($"/api/vms/tiny-1/ramblocks/{block}/memory?offset={(16 << 20) - (1 << 20)}&length={1 << 20}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1 << 20, (await response.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task Get_UnknownBlock_Is404()
    {
        await ApiErrorTests.AssertProblemAsync(await Admin.GetAsync("/api/vms/tiny-1/ramblocks/999/memory"), HttpStatusCode.NotFound, "block-not-found");
    }

    [Fact]
    public async Task Put_AsOperator_Is403AndMemoryUnchanged()
    {
        var block = await BlockIdAsync(Admin, "tiny-1", "microvm.ram");
        using var operatorClient = await Factory.CreateSignedInClientAsync(Roles.Operator);
        var response = await operatorClient.PutAsync($"/api/vms/tiny-1/ramblocks/{block}/memory?offset=0", Raw([9, 9, 9]));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.NotEqual([9, 9, 9], ApiTestMemory.ReadBlock(Factory, "tiny-1", "microvm.ram", 0, 3));
    }

    [Fact]
    public async Task Put_TooLargeOrEmpty_Refused()
    {
        var block = await BlockIdAsync(Admin, "tiny-1", "microvm.ram");
        await ApiErrorTests.AssertProblemAsync(
            await Admin.PutAsync($"/api/vms/tiny-1/ramblocks/{block}/memory?offset=0", Raw(new byte[(1 << 20) + 1])), HttpStatusCode.RequestEntityTooLarge, "body-too-large");
        var empty = await ApiErrorTests.AssertProblemAsync(
            await Admin.PutAsync($"/api/vms/tiny-1/ramblocks/{block}/memory?offset=0", Raw([])), HttpStatusCode.BadRequest, "validation-failed");
        Assert.NotNull(empty["errors"]?["body"]);
        var past = await ApiErrorTests.AssertProblemAsync(
            await Admin.PutAsync($"/api/vms/tiny-1/ramblocks/{block}/memory?offset={(16 << 20) - 1}", Raw([1, 2])), HttpStatusCode.BadRequest, "validation-failed");
        Assert.NotNull(past["errors"]?["length"]);
    }

    [Fact]
    public async Task Put_WhileMigrating_Is409VmMigratingAndAudited()
    {
        var block = await BlockIdAsync(Admin, "web-1", "pc.ram");
        var start = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "web-1", destinationHost = "host-b", parameters = new { maxBandwidth = 1 << 20 } });
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var id = (await start.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();

        var response = await Admin.PutAsync($"/api/vms/web-1/ramblocks/{block}/memory?offset=0", Raw([7]));
        var problem = await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.Conflict, "vm-migrating");
        Assert.Equal(id, problem["migrationId"]!.GetValue<string>());
        Assert.Equal("pc.ram", problem["block"]!.GetValue<string>());
        Assert.NotEqual([7], ApiTestMemory.ReadBlock(Factory, "web-1", "pc.ram", 0, 1));

        await Admin.PostAsync($"/api/migrations/{id}/cancel", null);
        await ApiTestMemory.WaitForAuditAsync(Admin, "web-1", e => e["code"]?.GetValue<string>() == "vm-migrating" && e["allowed"]!.GetValue<bool>() == false);
    }

    internal static async Task<int> BlockIdAsync(HttpClient client, string vm, string idStr)
    {
        var blocks = (await client.GetFromJsonAsync<JsonArray>($"/api/vms/{vm}/ramblocks"))!;
        return blocks.Single(b => b!["idStr"]!.GetValue<string>() == idStr)!["id"]!.GetValue<int>();
    }

    internal static ByteArrayContent Raw(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return content;
    }
}
