using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Tests;

public sealed class UsersApiTests : SignedInApiTest
{
    [Fact]
    public async Task CreateUser_AsAdmin_CanSignInWithItsRole()
    {
        var created = await Admin.PostAsJsonAsync("/api/users", new { userName = "ops.anna", password = "Anna-Password-1", role = "operator" });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var anna = Factory.CreateClient();
        var signIn = await anna.PostAsJsonAsync("/api/auth/login", new { userName = "ops.anna", password = "Anna-Password-1" });
        var me = await signIn.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal([Roles.Operator], me!["roles"]!.AsArray().Select(r => (string)r!));
        var users = await Admin.GetFromJsonAsync<JsonArray>("/api/users");
        Assert.Contains(users!, u => (string?)u!["userName"] == "ops.anna" && (string?)u["role"] == Roles.Operator);
    }

    [Theory]
    [InlineData("{\"userName\":\"admin\",\"password\":\"Some-Password-1\",\"role\":\"Viewer\"}", HttpStatusCode.Conflict, "user-exists")]
    [InlineData("{\"userName\":\"weak\",\"password\":\"short\",\"role\":\"Viewer\"}", HttpStatusCode.BadRequest, "validation-failed")]
    [InlineData("{\"userName\":\"Bad Name\",\"password\":\"Some-Password-1\",\"role\":\"Viewer\"}", HttpStatusCode.BadRequest, "validation-failed")]
    [InlineData("{\"userName\":\"someone\",\"password\":\"Some-Password-1\",\"role\":\"Root\"}", HttpStatusCode.BadRequest, "validation-failed")]
    public async Task CreateUser_Refused_IsProblemWithCode(string body, HttpStatusCode status, string code)
    {
        var response = await Admin.PostAsync(new Uri("/api/users", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(status, response.StatusCode);
        Assert.Equal(code, (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["code"]);
    }

    [Fact]
    public async Task LastAdmin_CannotLoseTheRoleOrBeDeleted()
    {
        var demote = await Admin.PutAsJsonAsync("/api/users/admin/role", new { role = "Viewer" });
        await Admin.PostAsJsonAsync("/api/users", new { userName = "second", password = "Second-Password-1", role = "Viewer" });
        var deleteSelf = await Admin.DeleteAsync(new Uri("/api/users/admin", UriKind.Relative));
        var deleteOther = await Admin.DeleteAsync(new Uri("/api/users/second", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Conflict, demote.StatusCode);
        Assert.Equal("last-admin", (string?)JsonNode.Parse(await demote.Content.ReadAsStringAsync())!["code"]);
        Assert.Equal("delete-self", (string?)JsonNode.Parse(await deleteSelf.Content.ReadAsStringAsync())!["code"]);
        Assert.Equal(HttpStatusCode.NoContent, deleteOther.StatusCode);
    }

    [Fact]
    public async Task Users_AsOperator_Is403()
    {
        using var operatorClient = await Factory.CreateSignedInClientAsync(Roles.Operator);

        Assert.Equal(HttpStatusCode.Forbidden, (await operatorClient.GetAsync(new Uri("/api/users", UriKind.Relative))).StatusCode);
    }
}
